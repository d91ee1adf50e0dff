// Package marathon is the Marathon runtime: a runtime.Driver that runs each
// service variant as one Marathon app through github.com/gambol99/go-marathon,
// waits for its deployment properly (deployment id, then running and healthy
// tasks), rolls failed deployments back, and reads apps back for drift.
package marathon

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/apiversion"
	"github.com/vamp-canary/terraform-provider-vamp/internal/runtime"
)

// Runtime is the driver's name in gateway routes.
const Runtime = "marathon"

// API is what the driver needs of Marathon; *Client (Connect) implements it. Apps are read
// and written in Marathon 1.5's networking format (App), which go-marathon v0.7.1 cannot
// decode; the rest is go-marathon's.
type API interface {
	App(id string, embed ...string) (*App, error)
	Apps(url.Values) ([]*App, error)
	PutApp(app *App, force bool) (*gomarathon.DeploymentID, error)
	Info() (*gomarathon.Info, error)
	DeleteApplication(name string, force bool) (*gomarathon.DeploymentID, error)
	ScaleApplicationInstances(name string, instances int, force bool) (*gomarathon.DeploymentID, error)
	Deployments() ([]*gomarathon.Deployment, error)
	DeleteDeployment(id string, force bool) (*gomarathon.DeploymentID, error)
}

// Connection is how to reach Marathon.
type Connection struct {
	// URL is Marathon's base URL, e.g. http://marathon.mesos:8080 or, on
	// DC/OS, https://<cluster> (go-marathon then adds /marathon).
	URL string
	// Username and Password select HTTP basic auth.
	Username, Password string
	// Token is a DC/OS authentication token ("Authorization: token=...").
	Token string
	// Timeout bounds each HTTP request; default 30s.
	Timeout time.Duration
}

// Options tune the driver.
type Options struct {
	// Group is the Marathon group of all apps; default DefaultGroup.
	Group string
	// PollInterval is how often deployments and tasks are polled; default 1s.
	PollInterval time.Duration
	// ForceOnLock answers 409 (app locked by a running deployment) by
	// forcing the change; by default the driver waits for the locking
	// deployments to end and retries.
	ForceOnLock bool
	// KeepFailed leaves a failed or timed-out deployment running; by default
	// it is cancelled, which makes Marathon roll the app back.
	KeepFailed bool
	// RollbackTimeout bounds the wait for the rollback; default 2 minutes.
	RollbackTimeout time.Duration
}

// Driver runs service variants as Marathon apps.
type Driver struct {
	api  API
	opts Options

	// legacy: Marathon predates the 1.5 networking API (read once from /v2/info).
	versionMu    sync.Mutex
	versionKnown bool
	legacy       bool
}

var _ runtime.Driver = (*Driver)(nil)

// New returns a driver using api.
func New(api API, opts Options) *Driver {
	if opts.Group == "" {
		opts.Group = DefaultGroup
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.RollbackTimeout <= 0 {
		opts.RollbackTimeout = 2 * time.Minute
	}
	return &Driver{api: api, opts: opts}
}

// Name implements runtime.Driver.
func (d *Driver) Name() string { return Runtime }

// Group is the Marathon group that holds the driver's apps.
func (d *Driver) Group() string { return d.opts.Group }

// AppID is the Marathon app id of a service id under the driver's group.
func (d *Driver) AppID(serviceID string) (string, error) { return AppID(d.opts.Group, serviceID) }

var taskEmbeds = []string{"app.tasks", "app.deployments", "app.lastTaskFailure"}

// legacyMarathon tells whether Marathon predates 1.5 (then apps are written in the 1.4
// format, which 1.4 understands; 1.5 and later get the 1.5 format, the only one they answer
// in). It asks /v2/info once; a version it cannot read counts as current.
func (d *Driver) legacyMarathon() (bool, error) {
	d.versionMu.Lock()
	defer d.versionMu.Unlock()
	if d.versionKnown {
		return d.legacy, nil
	}
	info, err := d.api.Info()
	if err != nil {
		return false, fmt.Errorf("marathon: reading its version (GET /v2/info): %w", err)
	}
	d.legacy, d.versionKnown = apiversion.Before15(info.Version), true
	return d.legacy, nil
}

// Apply implements runtime.Driver: it PUTs the app, then waits until the
// deployment is gone and the app has its instances of the new configuration
// running and healthy (go-marathon's WaitOnDeployment alone reports success
// for a deployment id it cannot find). When ctx ends first the error carries
// Marathon's last task failure and the health-check cause, and the
// deployment is cancelled so Marathon restores the previous version (unless
// Options.KeepFailed).
func (d *Driver) Apply(ctx context.Context, s runtime.Service) (runtime.Status, error) {
	app, err := BuildApp(d.opts.Group, s)
	if err != nil {
		return runtime.Status{}, err
	}
	legacy, err := d.legacyMarathon()
	if err != nil {
		return runtime.Status{}, fmt.Errorf("service %s: %w", s.ID, err)
	}
	if legacy {
		app = legacyApp(app)
	}
	_, err = d.get(app.ID, s.ID)
	existed := err == nil
	if err != nil && !isNotFound(err) {
		return runtime.Status{}, err
	}
	dep, err := d.changeApp(ctx, app.ID, func(force bool) (*gomarathon.DeploymentID, error) {
		return d.api.PutApp(app, force)
	})
	if err != nil {
		return runtime.Status{}, fmt.Errorf("service %s: %w", s.ID, err)
	}
	current, waitErr := d.waitConverged(ctx, app.ID, dep.DeploymentID)
	if waitErr == nil {
		return toStatus(current), nil
	}
	msg := fmt.Sprintf("service %s: Marathon deployment %s of app %s did not finish: %v", s.ID, dep.DeploymentID, app.ID, waitErr)
	// Read once more: the failure that made the caller give up may be newer
	// than the last poll.
	if latest, err := d.api.App(app.ID, taskEmbeds...); err == nil {
		current = latest
	}
	if current != nil {
		msg += "; " + describeProgress(current)
	}
	if d.opts.KeepFailed {
		return runtime.Status{}, errors.New(msg + "; the deployment keeps running (rollback is off)")
	}
	return runtime.Status{}, errors.New(msg + "; " + d.rollback(ctx, dep.DeploymentID, existed))
}

// rollback cancels a deployment, which makes Marathon deploy the previous
// definition (or remove a new app), and waits for that.
func (d *Driver) rollback(ctx context.Context, deploymentID string, existed bool) string {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.RollbackTimeout)
	defer cancel()
	back, err := d.api.DeleteDeployment(deploymentID, false)
	if isNotFound(err) {
		return "the deployment had already ended, nothing to roll back"
	}
	if err != nil {
		return "cancelling it to roll back failed: " + err.Error()
	}
	if err := d.waitDeploymentGone(rctx, back.DeploymentID); err != nil {
		return fmt.Sprintf("cancelled it; the rollback deployment %s did not finish: %v", back.DeploymentID, err)
	}
	if !existed {
		return fmt.Sprintf("cancelled it and Marathon removed the new app (deployment %s)", back.DeploymentID)
	}
	return fmt.Sprintf("cancelled it and Marathon rolled the app back to the previous version (deployment %s)", back.DeploymentID)
}

// changeApp runs a change that may meet 409 (app locked by a running
// deployment): it then forces (Options.ForceOnLock) or waits for the locking
// deployments to end and tries again. 400/422 name the rejected field.
func (d *Driver) changeApp(ctx context.Context, appID string, change func(force bool) (*gomarathon.DeploymentID, error)) (*gomarathon.DeploymentID, error) {
	for {
		dep, err := change(false)
		var apiErr *gomarathon.APIError
		if !errors.As(err, &apiErr) {
			return dep, err
		}
		switch apiErr.ErrCode {
		case gomarathon.ErrCodeAppLocked:
		case gomarathon.ErrCodeInvalidBean, gomarathon.ErrCodeBadRequest:
			return nil, fmt.Errorf("Marathon rejected the app definition of %s: %s", appID, strings.TrimPrefix(apiErr.Error(), "Marathon API error: ")) //nolint:staticcheck // ST1005: "Marathon" is a proper noun, capitalised anywhere in a sentence
		default:
			return nil, err
		}
		if d.opts.ForceOnLock {
			return change(true)
		}
		if err := d.waitUnlocked(ctx, appID); err != nil {
			return nil, fmt.Errorf("app %s stays locked by a running deployment (%s): %w; wait for it, cancel it in Marathon, or set force on lock", appID, apiErr.Error(), err)
		}
	}
}

func (d *Driver) waitUnlocked(ctx context.Context, appID string) error {
	return d.poll(ctx, func() (bool, error) {
		deps, err := d.api.Deployments()
		if err != nil {
			return false, err
		}
		return !slices.ContainsFunc(deps, func(dep *gomarathon.Deployment) bool { return slices.Contains(dep.AffectedApps, appID) }), nil
	})
}

func (d *Driver) waitDeploymentGone(ctx context.Context, id string) error {
	return d.poll(ctx, func() (bool, error) {
		deps, err := d.api.Deployments()
		if err != nil {
			return false, err
		}
		return !slices.ContainsFunc(deps, func(dep *gomarathon.Deployment) bool { return dep.ID == id }), nil
	})
}

// waitConverged waits until the deployment is gone and the app has its
// instances of the current configuration running and healthy. It returns
// the last app it read, also on error.
func (d *Driver) waitConverged(ctx context.Context, appID, deploymentID string) (*App, error) {
	var last *App
	err := d.poll(ctx, func() (bool, error) {
		deps, err := d.api.Deployments()
		if err != nil {
			return false, err
		}
		running := slices.ContainsFunc(deps, func(dep *gomarathon.Deployment) bool { return dep.ID == deploymentID })
		app, err := d.api.App(appID, taskEmbeds...)
		if err != nil {
			return false, err
		}
		last = app
		return !running && converged(app), nil
	})
	return last, err
}

// poll calls check every PollInterval until it reports done, fails, or ctx ends.
func (d *Driver) poll(ctx context.Context, check func() (bool, error)) error {
	ticker := time.NewTicker(d.opts.PollInterval)
	defer ticker.Stop()
	for {
		done, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting: %w", ctx.Err())
		case <-ticker.C:
		}
	}
}

// currentHealthyTasks counts tasks of the app's current configuration that
// are running and pass all health checks.
func currentHealthyTasks(app *App) int {
	since := app.Version
	if app.VersionInfo != nil && app.VersionInfo.LastConfigChangeAt != "" {
		since = app.VersionInfo.LastConfigChangeAt
	}
	n := 0
	for _, t := range app.Tasks {
		if t.State == "TASK_RUNNING" && t.Version >= since && TaskHealthy(app, t) {
			n++
		}
	}
	return n
}

// TaskHealthy is Marathon's verdict on a task: every health check alive; a task of an app
// without health checks counts as healthy, one whose checks have no result yet does not.
func TaskHealthy(app *App, t *gomarathon.Task) bool {
	if !app.HasHealthChecks() {
		return true
	}
	if len(t.HealthCheckResults) == 0 {
		return false
	}
	for _, r := range t.HealthCheckResults {
		if r == nil || !r.Alive {
			return false
		}
	}
	return true
}

func converged(app *App) bool {
	want := 1
	if app.Instances != nil {
		want = *app.Instances
	}
	return currentHealthyTasks(app) >= want
}

// describeProgress says how far the app got and why it is stuck, in
// Marathon's own words.
func describeProgress(app *App) string {
	want := 1
	if app.Instances != nil {
		want = *app.Instances
	}
	parts := []string{fmt.Sprintf("%d of %d instances of the new version running and healthy", currentHealthyTasks(app), want)}
	const maxCauses = 3 // enough to see the pattern without burying the message
	causes := 0
	for _, t := range app.Tasks {
		for _, r := range t.HealthCheckResults {
			if r != nil && !r.Alive && r.LastFailureCause != "" && causes < maxCauses {
				parts = append(parts, fmt.Sprintf("health check failing on task %s (%s): %s", t.ID, t.Host, r.LastFailureCause))
				causes++
			}
		}
	}
	if f := app.LastTaskFailure; f != nil {
		parts = append(parts, fmt.Sprintf("last task failure: %s %s on %s: %s", f.TaskID, f.State, f.Host, f.Message))
	}
	return strings.Join(parts, "; ")
}

// get reads an app with its tasks and checks that it belongs to serviceID
// (two service ids can map to one app id).
func (d *Driver) get(appID, serviceID string) (*App, error) {
	app, err := d.api.App(appID, taskEmbeds...)
	if err != nil {
		return nil, err
	}
	if owner := ServiceIDOf(app); owner != serviceID {
		return nil, fmt.Errorf("service %s maps to the Marathon app %s, which belongs to %q; rename the deployment, cluster or breed so that the ids differ",
			serviceID, appID, owner)
	}
	return app, nil
}

// Get implements runtime.Driver.
func (d *Driver) Get(ctx context.Context, id string) (runtime.Status, bool, error) {
	appID, err := d.AppID(id)
	if err != nil {
		return runtime.Status{}, false, err
	}
	app, err := d.get(appID, id)
	if isNotFound(err) {
		return runtime.Status{}, false, nil
	}
	if err != nil {
		return runtime.Status{}, false, fmt.Errorf("marathon: reading %s: %w", id, err)
	}
	return toStatus(app), true, nil
}

// Delete implements runtime.Driver: it removes the app and waits for the
// deployment that stops its tasks.
func (d *Driver) Delete(ctx context.Context, id string) error {
	appID, err := d.AppID(id)
	if err != nil {
		return err
	}
	dep, err := d.changeApp(ctx, appID, func(force bool) (*gomarathon.DeploymentID, error) {
		return d.api.DeleteApplication(appID, force)
	})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("marathon: deleting %s: %w", id, err)
	}
	if err := d.waitDeploymentGone(ctx, dep.DeploymentID); err != nil {
		return fmt.Errorf("marathon: deleting %s: deployment %s: %w", id, dep.DeploymentID, err)
	}
	return nil
}

// Scale implements escalation.Scaler for the gateway's SLA scaling; id is a service id
// ("sava/sava_cluster/sava:1.0.0", mapped under the driver's group) or a Marathon app id
// ("/vamp/sava/sava-cluster/sava-1.0.0"). It is a PUT of just the app's
// instances, so Marathon starts or kills tasks without touching the running ones (no new app
// version to roll out). It returns once Marathon accepted the change; the gateway's discovery
// brings new tasks into their routes when they are healthy. An app locked by a running
// deployment (e.g. a Terraform apply) is not forced: the error makes the gateway try again at
// its next tick.
func (d *Driver) Scale(_ context.Context, serviceID string, instances int) error {
	if instances < 0 {
		return fmt.Errorf("marathon: scaling %s: %d instances is negative", serviceID, instances)
	}
	appID := serviceID
	if !strings.HasPrefix(serviceID, "/") { // a provider service id, not an app id already
		var err error
		if appID, err = d.AppID(serviceID); err != nil {
			return err
		}
	}
	if _, err := d.api.ScaleApplicationInstances(appID, instances, false); err != nil {
		var apiErr *gomarathon.APIError
		if errors.As(err, &apiErr) && apiErr.ErrCode == gomarathon.ErrCodeAppLocked {
			return fmt.Errorf("marathon: scaling %s to %d: app %s is locked by a running deployment; trying again later", serviceID, instances, appID)
		}
		return fmt.Errorf("marathon: scaling %s to %d: %w", serviceID, instances, err)
	}
	return nil
}

// List implements runtime.Driver.
func (d *Driver) List(ctx context.Context, prefix string) ([]runtime.Status, error) {
	apps, err := d.api.Apps(url.Values{"label": {LabelService}, "embed": {"apps.tasks"}})
	if err != nil {
		return nil, fmt.Errorf("marathon: listing apps: %w", err)
	}
	var out []runtime.Status
	for _, app := range apps {
		if !strings.HasPrefix(app.ID, "/"+d.opts.Group+"/") {
			continue
		}
		if id := ServiceIDOf(app); id != "" && strings.HasPrefix(id, prefix) {
			out = append(out, toStatus(app))
		}
	}
	return out, nil
}

func isNotFound(err error) bool {
	var apiErr *gomarathon.APIError
	return errors.As(err, &apiErr) && apiErr.ErrCode == gomarathon.ErrCodeNotFound
}
