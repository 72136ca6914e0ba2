package hardening

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

func TestRulesUniqueAndOrdered(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	lastRefusal, firstTransform := -1, -1
	index := map[string]int{}
	for i, r := range Rules() {
		if r.ID == "" || seen[r.ID] || r.Apply == nil {
			t.Errorf("rule %d: id %q duplicate or empty, or no Apply", i, r.ID)
		}
		seen[r.ID] = true
		index[r.ID] = i
		switch r.Kind {
		case KindRefusal:
			lastRefusal = i
		case KindTransform:
			if firstTransform < 0 {
				firstTransform = i
			}
		default:
			t.Errorf("rule %s: kind %d", r.ID, r.Kind)
		}
	}
	if lastRefusal > firstTransform {
		t.Error("a refusal runs after a transform")
	}
	if index[RuleCapabilities] > index[RuleSeccomp] {
		t.Error("seccomp must run after capabilities (the default profile reads the bounding set)")
	}
	if index[RuleReadonlyRootfs] > index[RuleWritablePaths] || index[RuleUserNamespace] > index[RuleWritablePaths] {
		t.Error("readonly-rootfs and user-namespace must run before writable-paths")
	}
	a, b := Rules(), Rules()
	a[0].ID = "changed"
	if b[0].ID == "changed" {
		t.Error("Rules shares its slice")
	}
}

// TestDocComments checks that every exported name of the package has a
// doc comment, and that each rule function states its threat, fields and
// relaxing key.
func TestDocComments(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if files[name], err = parser.ParseFile(fset, name, nil, parser.ParseComments); err != nil {
			t.Fatal(err)
		}
	}
	ruleFuncs := map[string]bool{
		"RefuseHostRootfs": true, "RefuseHostNamespaces": true, "RefuseHostMounts": true, "RefuseHostDevices": true, "RefuseSysctls": true,
		"RefuseHooks": true, "UserNamespace": true, "CgroupNamespace": true, "ClampCapabilities": true,
		"SetNoNewPrivileges": true, "EnforceSeccomp": true, "ReadonlyRootfs": true, "WritablePaths": true,
		"MaskPaths": true, "ReadonlyPaths": true, "LimitPids": true,
		"RefuseIDMappedMounts": true, "PinHooks": true, "IDMappedMountOptions": true,
		"RefuseDeviceNodePaths": true, "RefuseUsernsJoin": true, "ClampRlimits": true, "ClampOOMScoreAdj": true,
	}
	found := 0
	for name, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Doc == nil {
					t.Errorf("%s: %s has no doc comment", name, d.Name)
					continue
				}
				if ruleFuncs[d.Name.Name] {
					found++
					doc := d.Doc.Text()
					for _, w := range []string{"Threat", "Fields", "Relaxed by"} {
						if !strings.Contains(doc, w) {
							t.Errorf("%s: rule %s doc lacks %q", name, d.Name, w)
						}
					}
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						if sp.Name.IsExported() && d.Doc == nil && sp.Doc == nil {
							t.Errorf("%s: type %s has no doc comment", name, sp.Name)
						}
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							if n.IsExported() && d.Doc == nil && sp.Doc == nil {
								t.Errorf("%s: %s has no doc comment", name, n)
							}
						}
					}
				}
			}
		}
	}
	if found != len(ruleFuncs) {
		t.Errorf("found %d rule functions, want %d", found, len(ruleFuncs))
	}
}
