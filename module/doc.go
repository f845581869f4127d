// Package module is the update module's state machine: what each state of
// the Mender Update Module v3 protocol does to the containers of one app.
//
// Every app is a service graph (package spec), whatever wrote it, and
// goes through one path. Download (download.go) checks the policy on each
// service's final configuration, pulls or loads every image and unpacks
// the files archive (files.go, images.go, payload.go) while the old
// containers keep running. Install (install.go) creates the app's missing
// networks and volumes (resources.go), then swaps (swap.go): it renames the
// replaced old containers out of the way, creates every new one, stops the
// replaced old ones in reverse start order and starts the new ones in
// dependency order (health.go waits for each dependency), handing a
// hand-over service over only once its new container is ready; then it
// waits for the new set to prove healthy. Commit (commit.go) removes the
// old set; rollback (rollback.go) removes the new set and restarts the old
// one, which was only stopped; failure, cleanup and boot-time recovery
// (recover.go) bring any half-done deployment to one of those ends.
// Removing an app is an update to a graph with no services. A journal in
// the state directory (state.go) records each step before it is taken, and
// every state finishes the job from wherever an earlier, killed run left
// it, so the device always ends with exactly the old set running or
// exactly the new set committed.
package module
