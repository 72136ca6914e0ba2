// Package create is the create pipeline: the one door through which
// create, run and restore make a container. Launch takes a bundle from
// config.json to a started libcontainer init in named steps:
//
//  1. load: the host's policy (it caps how much of config.json is read),
//     then the bundle (spec.LoadBundleLimit);
//  2. pin and facts: the rootfs opened once (idmap.PinDir), the host
//     facts gathered once (hardening.GatherHostFactsFor and friends);
//  3. check: hardening.Check plans the user namespace and runs every
//     refusal rule; a refused configuration stops here, before anything
//     on the host is touched;
//  4. stage: the create lock taken, the rootfs staged (userns.StageRootfs);
//  5. transform: Checked.Apply rewrites the spec, which is saved; bind
//     sources are pinned (Stage.PinBinds), a pod's network namespace
//     prepared (Stage.PreparePodNetwork);
//  6. convert: specconv, then the compatibility and seccomp adjustments
//     (keepOlderConfigsWorking, pruneSeccomp) and the RLIMIT_AS deferral,
//     each noted in the Report; the audit record is written here;
//  7. create: libcontainer.Create, the records saved, and the init run
//     (runner.Process).
//
// The package also undoes what a create killed midway left (RemoveLeftover)
// and keeps the audit record of every create.
package create
