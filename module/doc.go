// Package module is the update module's state machine: what each state of
// the Mender Update Module v3 protocol does to the containers of one app.
//
// An update pulls every image while the old containers keep running, then
// renames the old containers out of the way, creates the new ones, stops the
// old and starts the new (so that downtime is one stop and one start), and
// waits for the new set to prove healthy. Commit removes the old set;
// rollback removes the new set and restarts the old one, which was only
// stopped. A journal in the state directory records each step before it is
// taken, and every state finishes the job from wherever an earlier, killed
// run left it, so the device always ends with exactly the old set running
// or exactly the new set committed.
package module
