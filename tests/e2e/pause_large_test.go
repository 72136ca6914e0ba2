package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerPauseLargeLayerAudited: pause keeps the live view of a layer
// of more than 100,000 files (shifting it would take over a second each
// way), so docker commit would record host IDs for it; that is written
// to the audit log (event pause-view, naming the container), which
// outlives the container, not only to the runtime's log.
func TestDockerPauseLargeLayerAudited(t *testing.T) {
	c := runDetachedArgs(t, nil, "sh", "-c", `mkdir /tmp/many && cd /tmp/many && seq 1 100001 | xargs touch && touch /tmp/ready && sleep 1000`)
	waitForMergedFile(t, c, "tmp/ready", 60*time.Second, "its 100,001 files")
	mustDocker(t, "pause", c.Name)
	mustDocker(t, "unpause", c.Name)
	f, err := os.Open(filepath.Join(filepath.Dir(dockerd.Log), "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Event    string `json:"event"`
			ID       string `json:"id"`
			Warnings []struct {
				Rule, Message string
			} `json:"warnings"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.ID != c.ID || rec.Event != "pause-view" {
			continue
		}
		for _, w := range rec.Warnings {
			found = append(found, w.Rule+": "+w.Message)
		}
	}
	if len(found) == 0 || !strings.Contains(found[0], "pause") {
		t.Errorf("audit log: pause-view warnings of %s %q, want the pause that kept the live view", c.ID, found)
	}
	t.Logf("recorded: %q", found)
}
