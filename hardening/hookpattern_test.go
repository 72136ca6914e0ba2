package hardening

import (
	"regexp"
	"slices"
	"testing"
)

// TestFindPlaceholderAgreesWithPattern holds the scan to the regular
// expression it replaced, `\{[a-z0-9]+\}`: the leftmost match.
func TestFindPlaceholderAgreesWithPattern(t *testing.T) {
	re := regexp.MustCompile(`\{[a-z0-9]+\}`)
	for _, s := range []string{
		"", "{", "}", "{}", "{id}", "x{id}y", "{{id}}", "{ID}", "{a-b}", "{pth}", "--name={id}",
		"{ {x}", "{x", "x}", "{é}", "/run/{hex}/{path}", "{0}", "{a}{b}", "{{}", "{a{b}c}",
	} {
		if got, want := findPlaceholder(s), re.FindStringIndex(s); !slices.Equal(got, want) {
			t.Errorf("findPlaceholder(%q) = %v, the pattern finds %v", s, got, want)
		}
	}
}

// TestArgPatternExprRefusesUnknownPlaceholders: the policy-load check
// that no longer compiles still refuses a typo.
func TestArgPatternExprRefusesUnknownPlaceholders(t *testing.T) {
	if _, err := argPatternExpr("--name={pth}"); err == nil {
		t.Fatal("{pth} accepted")
	}
	expr, err := argPatternExpr("-c {path} {id}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := regexp.Compile(expr); err != nil {
		t.Fatal(err)
	}
}
