package containers

import (
	"bytes"
	"strings"
	"testing"
)

func TestFilterPSOutput(t *testing.T) {
	t.Parallel()
	const psEF = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         412       1  0 10:00 ?        00:00:00 sleep 1000
1000         413     412  0 10:01 pts/0    00:00:00 sh -c echo 412 413
root        4120       1  0 10:02 ?        00:00:00 containerd
`
	tests := []struct {
		name    string
		out     string
		pids    []int
		want    string
		wantErr string
	}{
		{
			name: "ps -ef keeps header and the container's rows",
			out:  psEF,
			pids: []int{412, 413},
			want: `UID          PID    PPID  C STIME TTY          TIME CMD
root         412       1  0 10:00 ?        00:00:00 sleep 1000
1000         413     412  0 10:01 pts/0    00:00:00 sh -c echo 412 413
`,
		},
		{
			name: "PID column is matched exactly, not by prefix or in other columns",
			out:  psEF,
			pids: []int{41, 0},
			want: "UID          PID    PPID  C STIME TTY          TIME CMD\n",
		},
		{
			name: "PID first (ps -o pid,args), blank lines skipped",
			out:  "  PID COMMAND\n    7 sleep 5\n\n    8 top\n",
			pids: []int{8},
			want: "  PID COMMAND\n    8 top\n",
		},
		{
			name: "no container processes",
			out:  psEF,
			pids: nil,
			want: "UID          PID    PPID  C STIME TTY          TIME CMD\n",
		},
		{name: "no PID column", out: "USER COMMAND\nroot init\n", wantErr: "no PID column"},
		{name: "empty output", out: "", wantErr: "ps printed nothing"},
		{name: "short row", out: "USER PID CMD\nroot\n", wantErr: `ps row "root" has no PID column`},
		{name: "non-numeric PID", out: "PID CMD\nabc init\n", wantErr: `PID "abc" is not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			err := filterPSOutput(&buf, []byte(tc.out), tc.pids)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("filterPSOutput error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("filterPSOutput: %v", err)
			}
			if buf.String() != tc.want {
				t.Errorf("filterPSOutput:\n got %q\nwant %q", buf.String(), tc.want)
			}
		})
	}
}
