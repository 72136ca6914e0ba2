package hardening

import (
	"fmt"
	"slices"
	"strings"
)

// List-valued keys and their defaults. A policy file's list adds to the
// built-in default of its key (`{"writablePaths": ["/srv"]}` keeps /tmp,
// /run... and adds /srv), so that a file naming one more path, syscall,
// hook, source or subordinate-ID user does not silently drop the defaults: for writablePaths
// that would make /tmp read-only, for denySyscalls it would allow
// io_uring again, for allowedHooks it would break Docker's networking
// hook. A file replaces a default only when its "replace" key names the
// key. The other list keys (allowCapabilities, allowDevices, ...) have
// empty defaults: adding and replacing are the same.

// ReplaceableKeys returns the list keys with a non-empty default, the
// only names "replace" takes.
func ReplaceableKeys() []string {
	return []string{"writablePaths", "denySyscalls", "allowedHooks", "idmapMountSources", "userNamespace.callerSubidUsers"}
}

// mergeListDefaults adds the defaults of every list key not named in
// p.Replace to p's (already normalized) values, defaults first.
func (p *Policy) mergeListDefaults() error {
	known := ReplaceableKeys()
	for _, k := range p.Replace {
		if !slices.Contains(known, k) {
			return fmt.Errorf("key \"replace\": %q is not one of %s (the list keys with a default)", k, strings.Join(known, ", "))
		}
	}
	def := DefaultPolicy()
	if !slices.Contains(p.Replace, "writablePaths") {
		p.WritablePaths = appendNew(def.WritablePaths, p.WritablePaths...)
	}
	if !slices.Contains(p.Replace, "denySyscalls") {
		p.DenySyscalls = appendNew(def.DenySyscalls, p.DenySyscalls...)
	}
	if !slices.Contains(p.Replace, "allowedHooks") {
		p.AllowedHooks = appendNewHooks(def.AllowedHooks, p.AllowedHooks...)
	}
	if !slices.Contains(p.Replace, "idmapMountSources") {
		p.IDMapMountSources = appendNew(def.IDMapMountSources, p.IDMapMountSources...)
	}
	if !slices.Contains(p.Replace, "userNamespace.callerSubidUsers") {
		p.UserNamespace.CallerSubIDUsers = appendNew(def.UserNamespace.CallerSubIDUsers, p.UserNamespace.CallerSubIDUsers...)
	}
	return p.UserNamespace.checkRemapUsers()
}
