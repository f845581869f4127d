package module_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
)

// filesTar is a files archive holding files.
func filesTar(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(files[name]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// shop is one version of a graph app: db (a health check, a named volume,
// the back network with an alias), migrate (a one-shot that web waits
// for), web (two networks with aliases, a file from the archive, waits for
// db healthy and migrate completed) and api (hand-over, waits for db
// started).
type shop struct {
	db, migrate, web, api string
	archive               []byte
}

func (d *device) shop(v string, b map[string]memengine.Behavior) shop {
	return shop{
		db:      d.image("db", v, b["db"]),
		migrate: d.image("migrate", v, b["migrate"]),
		web:     d.image("web", v, b["web"]),
		api:     d.image("api", v, b["api"]),
		archive: filesTar(d.t, map[string]string{"web.conf": "version " + v + "\n"}),
	}
}

func healthyDB() memengine.Behavior { return memengine.Behavior{Health: engine.HealthHealthy} }

func shopBehaviour() map[string]memengine.Behavior {
	return map[string]memengine.Behavior{"db": healthyDB(), "migrate": {Complete: true}, "api": {Health: engine.HealthHealthy}}
}

func (s shop) meta() string {
	return fmt.Sprintf(`{"app":"shop","health":{"window":"5ms","timeout":"50ms"},
"networks":{"front":{},"back":{"internal":true}},"volumes":{"data":{}},
"files":{"archive":"files.tar","digest":%q},
"services":{
 "db":{"image":%q,"run_args":"-v data:/var/lib/db --restart always","networks":{"back":["database"]},"healthcheck":{"test":["CMD","true"]}},
 "migrate":{"image":%q,"networks":{"back":[]},"depends_on":{"db":"service_healthy"}},
 "web":{"image":%q,"run_args":"--restart always","networks":{"front":["www"],"back":[]},"depends_on":{"db":"service_healthy","migrate":"service_completed_successfully"},"files":{"/etc/web.conf":"web.conf"}},
 "api":{"image":%q,"update":"hand-over","networks":{"front":["api"]},"depends_on":{"db":"service_started"}}}}`,
		digestOf(s.archive), s.db, s.migrate, s.web, s.api)
}

// installShop installs s, committed when commit.
func (d *device) installShop(name string, s shop, commit bool) error {
	d.payload = map[string][]byte{"files.tar": s.archive}
	return d.install(name, s.meta(), commit)
}

// filesDirs lists the app's unpacked files archives.
func (d *device) filesDirs(app string) []string {
	entries, _ := os.ReadDir(filepath.Join(d.u.Config.StateDir, app, "files"))
	var out []string
	for _, e := range entries {
		out = append(out, "sha256:"+e.Name())
	}
	return out
}

// isShop tells whether the device runs exactly s, its db the container
// db (when given), with its networks and volume.
func (d *device) isShop(s shop, now []shopSnap, dbID string) bool {
	want := map[string]struct {
		image   string
		running bool
	}{"shop-db": {s.db, true}, "shop-migrate": {s.migrate, false}, "shop-web": {s.web, true}, "shop-api": {s.api, true}}
	if len(now) != len(want) {
		return false
	}
	for _, c := range now {
		w, ok := want[c.Name]
		if !ok || w.image != c.Image || w.running != c.Running {
			return false
		}
		if c.Name == "shop-db" && dbID != "" && c.ID != dbID {
			return false
		}
	}
	return true
}

type shopSnap struct {
	ID, Name, Image string
	Running         bool
	Networks        map[string][]string
}

// shopSnapshot is the app's containers with their networks, by name.
func (d *device) shopSnapshot() []shopSnap {
	ctx := context.Background()
	l, err := d.eng.ListContainers(ctx, map[string]string{module.LabelApp: "shop"})
	require.NoError(d.t, err)
	var out []shopSnap
	for _, c := range l {
		full, err := d.eng.InspectContainer(ctx, c.ID)
		require.NoError(d.t, err)
		out = append(out, shopSnap{full.ID, full.Name, full.Image, full.State.Running, full.Networks})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// checkShopResources: the app's networks (with each container attached
// where the graph says) and volume are there, and exactly one files
// directory, digest's.
func (d *device) checkShopResources(label string, digest string) {
	t := d.t
	assert.Equal(t, []string{"shop_back", "shop_front"}, d.eng.Networks(), label)
	assert.Equal(t, []string{"shop_data"}, d.eng.Volumes(), label)
	assert.Equal(t, []string{digest}, d.filesDirs("shop"), label)
	nets := map[string][]string{}
	for _, c := range d.shopSnapshot() {
		var names []string
		for n := range c.Networks {
			names = append(names, n)
		}
		sort.Strings(names)
		nets[c.Name] = names
	}
	assert.Equal(t, map[string][]string{"shop-db": {"shop_back"}, "shop-migrate": {"shop_back"}, "shop-web": {"shop_back", "shop_front"}, "shop-api": {"shop_front"}}, nets, label)
}

// recorder records the engine calls that change containers, in order.
type recorder struct {
	engine.Engine
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(op, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := id
	if c, err := r.Engine.InspectContainer(context.Background(), id); err == nil {
		name = c.Name
		if img := c.Image; img != "" {
			name += "@" + strings.SplitN(strings.TrimPrefix(img, "127.0.0.1:5000/acme/"), "@", 2)[0]
		}
	}
	r.calls = append(r.calls, op+" "+name)
}

func (r *recorder) CreateContainer(ctx context.Context, cfg engine.ContainerConfig) (string, error) {
	id, err := r.Engine.CreateContainer(ctx, cfg)
	if err == nil {
		r.add("create", id)
	}
	return id, err
}

func (r *recorder) StartContainer(ctx context.Context, id string) error {
	r.add("start", id)
	return r.Engine.StartContainer(ctx, id)
}

func (r *recorder) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	r.add("stop", id)
	return r.Engine.StopContainer(ctx, id, timeout)
}

func (r *recorder) ConnectEndpoint(ctx context.Context, container string, ep engine.Endpoint) error {
	r.add("connect "+ep.Network, container)
	return r.Engine.ConnectEndpoint(ctx, container, ep)
}

func (r *recorder) RenameContainer(ctx context.Context, id, name string) error {
	r.add("rename to "+name, id)
	return r.Engine.RenameContainer(ctx, id, name)
}

func (r *recorder) index(t *testing.T, call string) int {
	t.Helper()
	i := slices.Index(r.calls, call)
	require.GreaterOrEqual(t, i, 0, "no call %q in %v", call, r.calls)
	return i
}

// Services start in dependency order, each attached to all its networks
// first; an update creates every new container before it stops an old one,
// stops the old ones in reverse start order, and hands api over: its new
// container runs beside the old one until it is ready.
func TestGraphOrder(t *testing.T) {
	d := newDevice(t)
	rec := &recorder{Engine: d.eng}
	d.u.Engine = rec
	v1 := d.shop("1", shopBehaviour())
	require.NoError(t, d.installShop("shop-1", v1, true), d.Log.String())
	i := rec.index
	assert.Less(t, i(t, "start shop-db@db"), i(t, "start shop-migrate@migrate"), rec.calls)
	assert.Less(t, i(t, "start shop-migrate@migrate"), i(t, "start shop-web@web"), rec.calls)
	assert.Less(t, i(t, "start shop-db@db"), i(t, "start shop-api@api"), rec.calls)
	assert.Less(t, i(t, "connect shop_front shop-web@web"), i(t, "start shop-web@web"), rec.calls)
	assert.NotContains(t, rec.calls, "connect shop_back shop-web@web", "the first network is attached at creation")
	web, err := d.eng.InspectContainer(context.Background(), "shop-web")
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"shop_front": {"www"}, "shop_back": nil}, web.Networks)
	db, err := d.eng.InspectContainer(context.Background(), "shop-db")
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"shop_back": {"database"}}, db.Networks)
	assert.Contains(t, d.eng.Config(db.ID).Binds, "shop_data:/var/lib/db")
	d.checkShopResources("v1", digestOf(v1.archive))

	rec.calls = nil
	v2 := d.shop("2", shopBehaviour())
	require.NoError(t, d.installShop("shop-2", v2, true), d.Log.String())
	lastCreate, firstStop := 0, len(rec.calls)
	for j, c := range rec.calls {
		if strings.HasPrefix(c, "create ") {
			lastCreate = j
		}
		if strings.HasPrefix(c, "stop ") && j < firstStop {
			firstStop = j
		}
	}
	assert.Less(t, lastCreate, firstStop, "every new container is created before an old one stops: %v", rec.calls)
	assert.Less(t, i(t, "stop shop-web_prev@web"), i(t, "stop shop-db_prev@db"), "reverse start order: %v", rec.calls)
	assert.NotContains(t, rec.calls, "stop shop-migrate_prev@migrate", "it was not running")
	// Hand-over: api 2 starts beside api 1, which keeps its name until it
	// has stopped.
	assert.Less(t, i(t, "start shop-api_next@api"), i(t, "stop shop-api@api"), rec.calls)
	assert.Less(t, i(t, "stop shop-api@api"), i(t, "rename to shop-api_prev shop-api@api"), rec.calls)
	assert.Less(t, i(t, "rename to shop-api_prev shop-api@api"), i(t, "rename to shop-api shop-api_next@api"), rec.calls)
	assert.True(t, d.isShop(v2, d.shopSnapshot(), ""), "%v", d.shopSnapshot())
	d.checkShopResources("v2", digestOf(v2.archive))

	// A rollback starts the old set in start order.
	require.NoError(t, d.installShop("shop-3", d.shop("3", shopBehaviour()), false))
	rec.calls = nil
	require.NoError(t, d.run("ArtifactRollback"))
	assert.Less(t, i(t, "start shop-db@db"), i(t, "start shop-web@web"), rec.calls)
	assert.True(t, d.isShop(v2, d.shopSnapshot(), ""), "%v", d.shopSnapshot())
}

// A dependency that never becomes healthy fails the install; the old set
// is back exactly, networks and volume kept.
func TestGraphDependencyNeverHealthy(t *testing.T) {
	for name, db := range map[string]memengine.Behavior{
		"never healthy": {Health: engine.HealthStarting},
		"unhealthy":     {Health: engine.HealthUnhealthy},
		"exits":         {Crash: true},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDevice(t)
			d.unrelated()
			v1 := d.shop("1", shopBehaviour())
			require.NoError(t, d.installShop("shop-1", v1, true))
			before := d.snapshot()
			b := shopBehaviour()
			b["db"] = db
			v2 := d.shop("2", b)
			err := d.installShop("shop-2", v2, true)
			require.ErrorIs(t, err, module.ErrUnhealthy)
			assert.Contains(t, err.Error(), "waits for shop-db")
			assert.Equal(t, before, d.snapshot())
			d.checkShopResources("rolled back", digestOf(v1.archive))
			assert.NotContains(t, d.eng.Images(), v2.db)
			assert.Contains(t, d.Log.String(), "evidence from shop-db")
		})
	}
}

// Files of the archive are mounted read-only where the service says, from
// the app's state directory, added after the policy check (a policy that
// allows no bind mounts does not refuse them).
func TestGraphFilesReadOnly(t *testing.T) {
	d := newDevice(t)
	d.u.Config.Policy.BindMountPaths = []string{"/nowhere"}
	v1 := d.shop("1", shopBehaviour())
	require.NoError(t, d.installShop("shop-1", v1, true), d.Log.String())
	dir := filepath.Join(d.u.Config.StateDir, "shop", "files", strings.TrimPrefix(digestOf(v1.archive), "sha256:"))
	web, err := d.eng.InspectContainer(context.Background(), "shop-web")
	require.NoError(t, err)
	assert.Contains(t, d.eng.Config(web.ID).Binds, filepath.Join(dir, "web.conf")+":/etc/web.conf:ro")
	b, err := os.ReadFile(filepath.Join(dir, "web.conf"))
	require.NoError(t, err)
	assert.Equal(t, "version 1\n", string(b))

	// A failed update leaves only the installed files; a committed one
	// only its own.
	v2 := d.shop("2", shopBehaviour())
	require.NoError(t, d.installShop("shop-2", v2, false))
	assert.ElementsMatch(t, []string{digestOf(v1.archive), digestOf(v2.archive)}, d.filesDirs("shop"))
	require.NoError(t, d.run("ArtifactRollback"))
	require.NoError(t, d.run("Cleanup"))
	assert.Equal(t, []string{digestOf(v1.archive)}, d.filesDirs("shop"))
	require.NoError(t, d.installShop("shop-2", v2, true))
	assert.Equal(t, []string{digestOf(v2.archive)}, d.filesDirs("shop"))

	// An archive that is not the one the meta-data names is refused.
	v3 := d.shop("3", shopBehaviour())
	d.payload = map[string][]byte{"files.tar": v2.archive}
	err = d.install("shop-3", v3.meta(), true)
	require.ErrorIs(t, err, module.ErrArchive)
	assert.Contains(t, err.Error(), "files.digest")
	assert.Equal(t, []string{digestOf(v2.archive)}, d.filesDirs("shop"))
	d.payload = nil
	err = d.install("shop-3", v3.meta(), true)
	require.ErrorIs(t, err, module.ErrPayload)
	assert.Contains(t, err.Error(), "files.archive")
	v3.archive = filesTar(t, map[string]string{"other.conf": "x"})
	err = d.installShop("shop-3", v3, true)
	require.ErrorIs(t, err, module.ErrPayload)
	assert.Contains(t, err.Error(), `services.web.files["/etc/web.conf"]: "web.conf" is not in the files archive`)
	assert.Equal(t, []string{digestOf(v2.archive)}, d.filesDirs("shop"))
	assert.True(t, d.isShop(v2, d.shopSnapshot(), ""))
}

// Removing an app stops its containers at install (a rollback brings them
// back), and at commit removes them, its images, its networks and files,
// and its volumes only when asked; a volume not labelled ours stays.
func TestGraphRemoval(t *testing.T) {
	for _, volumes := range []bool{false, true} {
		t.Run(fmt.Sprint("remove_volumes=", volumes), func(t *testing.T) {
			d := newDevice(t)
			other := d.unrelated()
			ctx := context.Background()
			require.NoError(t, d.eng.CreateVolume(ctx, engine.VolumeConfig{Name: "shop_cache"}))
			v1 := d.shop("1", shopBehaviour())
			meta := strings.Replace(v1.meta(), `"volumes":{"data":{}}`, `"volumes":{"data":{},"cache":{}}`, 1)
			d.payload = map[string][]byte{"files.tar": v1.archive}
			require.NoError(t, d.install("shop-1", meta, true), d.Log.String())
			before := d.snapshot()
			removal := fmt.Sprintf(`{"app":"shop","remove":true,"remove_volumes":%t}`, volumes)
			d.payload = nil

			require.NoError(t, d.install("shop-removed", removal, false))
			for _, c := range d.snapshot() {
				assert.Equal(t, c.ID == other, c.Running, c.Name)
			}
			require.NoError(t, d.run("ArtifactRollback"))
			require.NoError(t, d.run("Cleanup"))
			assert.Equal(t, before, d.snapshot(), "rolled back: the app is back")

			require.NoError(t, d.install("shop-removed", removal, true))
			s := d.snapshot()
			require.Len(t, s, 1)
			assert.Equal(t, other, s[0].ID)
			assert.Empty(t, d.eng.Networks())
			if volumes {
				assert.Equal(t, []string{"shop_cache"}, d.eng.Volumes(), "only the volume labelled ours goes")
			} else {
				assert.Equal(t, []string{"shop_cache", "shop_data"}, d.eng.Volumes())
			}
			assert.Empty(t, d.filesDirs("shop"))
			for _, img := range []string{v1.db, v1.web, v1.api, v1.migrate} {
				assert.NotContains(t, d.eng.Images(), img)
			}
			_, err := os.Stat(filepath.Join(d.u.Config.StateDir, "shop", "installed.json"))
			assert.True(t, os.IsNotExist(err))
		})
	}
}

// An app that Docker Compose ran before this release (containers labelled
// com.docker.compose.project=APP, a volume APP_NAME) is taken over by its
// first update: its containers stop at install, are restored by a
// rollback and removed at commit; the volume's data carries over.
func TestGraphTakesOverCompose(t *testing.T) {
	d := newDevice(t)
	other := d.unrelated()
	ctx := context.Background()
	require.NoError(t, d.eng.CreateVolume(ctx, engine.VolumeConfig{Name: "shop_data", Labels: map[string]string{"com.docker.compose.project": "shop"}}))
	var composed []string
	for _, svc := range []string{"db", "web"} {
		img := d.image("compose-"+svc, "1", memengine.Behavior{})
		require.NoError(t, d.eng.PullImage(ctx, img))
		id, err := d.eng.CreateContainer(ctx, engine.ContainerConfig{Name: "shop-" + svc + "-1", Image: img, Binds: []string{"shop_data:/data"},
			Labels: map[string]string{module.ComposeProjectLabel: "shop", module.ComposeServiceLabel: svc}})
		require.NoError(t, err)
		require.NoError(t, d.eng.StartContainer(ctx, id))
		composed = append(composed, id)
	}
	before := d.snapshot()
	v1 := d.shop("1", shopBehaviour())
	require.NoError(t, d.installShop("shop-1", v1, false), d.Log.String())
	for _, c := range d.snapshot() {
		if slices.Contains(composed, c.ID) {
			assert.False(t, c.Running, "%s stopped", c.Name)
		}
	}
	st := d.u.Status(ctx, "shop")
	require.Len(t, st.Apps, 1)
	require.NoError(t, d.run("ArtifactRollback"))
	require.NoError(t, d.run("Cleanup"))
	assert.Equal(t, before, d.snapshot(), "the Compose containers are back")

	require.NoError(t, d.installShop("shop-1", v1, true), d.Log.String())
	for _, c := range d.snapshot() {
		assert.NotContains(t, composed, c.ID, "removed at commit")
	}
	assert.True(t, d.isShop(v1, d.shopSnapshot(), ""))
	assert.Contains(t, d.eng.Volumes(), "shop_data")
	assert.Contains(t, d.Log.String(), "not the app's")
	for _, c := range d.snapshot() {
		if c.ID == other {
			assert.True(t, c.Running)
		}
	}
}

// A hand-over whose new container never gets ready fails the install, and
// the old container of that service was never stopped: no downtime, even
// when the rollback restarts the rest of the old set.
func TestHandOverFailureLeavesOldRunning(t *testing.T) {
	for name, api := range map[string]memengine.Behavior{
		"unhealthy":     {Health: engine.HealthUnhealthy},
		"never healthy": {Health: engine.HealthStarting},
		"exits":         {Crash: true},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDevice(t)
			rec := &recorder{Engine: d.eng}
			d.u.Engine = rec
			v1 := d.shop("1", shopBehaviour())
			require.NoError(t, d.installShop("shop-1", v1, true))
			before, old := d.snapshot(), d.byName()["shop-api"]
			b := shopBehaviour()
			b["api"] = api
			rec.calls = nil
			err := d.installShop("shop-2", d.shop("2", b), true)
			require.ErrorIs(t, err, module.ErrUnhealthy)
			assert.Contains(t, err.Error(), "shop-api_next")
			assert.Equal(t, before, d.snapshot())
			sameContainer(t, old, d.byName()["shop-api"], "the old api ran throughout")
			assert.NotContains(t, rec.calls, "stop shop-api@api")
			assert.Contains(t, rec.calls, "stop shop-web_prev@web", "the recreated services did stop")
		})
	}
}

// A one-shot that another service waits for with
// service_completed_successfully has done its job once it exited with
// code 0: `docker status` counts the app healthy, with the one-shot
// marked as such.
func TestStatusOneShotCompleted(t *testing.T) {
	d := newDevice(t)
	require.NoError(t, d.installShop("shop-1", d.shop("1", shopBehaviour()), true))
	st := d.u.Status(context.Background(), "shop")
	require.Len(t, st.Apps, 1)
	a := st.Apps[0]
	assert.True(t, a.Healthy, "problems: %v", a.Problems)
	var migrate *module.ContainerStatus
	for i, c := range a.Containers {
		if c.Service == "migrate" {
			migrate = &a.Containers[i]
		}
		assert.Equal(t, c.Service == "migrate", c.OneShot, c.Name)
	}
	require.NotNil(t, migrate)
	assert.Equal(t, "exited", migrate.State)
}
