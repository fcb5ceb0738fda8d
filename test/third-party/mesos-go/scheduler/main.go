// Command scheduler is a test fixture: a small framework written with the
// third-party Go library mesos-go (its v1 HTTP scheduler client, as packaged
// by Debian in golang-github-mesos-mesos-go-dev). mesos-ts' integration test
// test/integration/third-party-mesos-go.test.ts builds it and runs it against
// a real mesos-ts master and agent.
//
// It walks one whole framework life cycle through the library's own
// controller, call builders and decoders, so that any difference between
// mesos-ts and Mesos on the wire (status codes, headers, media types, RecordIO
// framing, protobuf field numbers, enum values, missing required fields) shows
// up as a library error or an unexpected value:
//
//	SUBSCRIBE -> SUBSCRIBED (+ HEARTBEAT)
//	with -failover: drop the connection, SUBSCRIBE again with the framework
//	                id -> SUBSCRIBED with the same id
//	first OFFERS -> DECLINE all (refuse_seconds=1)
//	next OFFERS -> ACCEPT one with LAUNCH of two command tasks
//	               ("hi": echo hi; "sleeper": sleep), DECLINE the rest
//	               and, with -executor, "custom" on the Go executor
//	               test/third-party/mesos-go/executor
//	UPDATEs -> ACKNOWLEDGE (library rule) until "hi" is TASK_FINISHED and
//	           "sleeper" (and "custom") TASK_RUNNING
//	implicit RECONCILE -> "sleeper" (and "custom") TASK_RUNNING
//	                      (REASON_RECONCILIATION)
//	explicit RECONCILE -> "hi" TASK_GONE, unknown task TASK_UNKNOWN
//	MESSAGE "ping" to the executor -> MESSAGE "pong:ping" back
//	KILL "sleeper" (and "custom") -> TASK_KILLED
//	TEARDOWN -> the master ends the event stream
//
// It prints one line per step and exits 0 when everything happened as Mesos
// would do it; on any surprise it prints "FAIL: <why>" and exits 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/callrules"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/controller"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/eventrules"
	"github.com/mesos/mesos-go/api/v1/lib/extras/store"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/events"
)

const (
	taskHi      = "hi"
	taskSleeper = "sleeper"
	taskUnknown = "no-such-task"
	taskCustom  = "custom"
	executorID  = "go-executor"
)

type phase int

const (
	waitFirstOffers phase = iota
	waitSecondOffers
	waitTasks
	waitImplicitReconcile
	waitExplicitReconcile
	waitMessage
	waitKilled
	tornDown
)

// run is the framework's state; the controller calls the handlers one event
// at a time, the mutex only guards against the final read in main.
type run struct {
	mu           sync.Mutex
	phase        phase
	caller       calls.Caller
	endpoint     func() string
	frameworkID  string
	agentID      string
	heartbeats   int
	states       map[string][]string
	implicitSeen map[string]string
	explicitSeen map[string]string
	command      string
	// executor is the Go executor's path ("" runs without it); codec the
	// media type it should use.
	executor string
	codec    string
	// marker is set as MESOS_GO_TEST_MARKER in the environment of the
	// tasks that outlive a failed run, so the test can find and end them.
	marker string
	// failover: leave after the first SUBSCRIBED and subscribe again.
	failover      bool
	subscriptions int
}

// errFailover ends the first subscription on purpose (-failover).
var errFailover = errors.New("leaving to fail over")

func fail(format string, args ...interface{}) error {
	return errors.New(fmt.Sprintf(format, args...))
}

func main() {
	master := flag.String("master", "http://127.0.0.1:5050", "master URL")
	codecName := flag.String("codec", "protobuf", "wire codec: protobuf or json")
	timeout := flag.Duration("timeout", 90*time.Second, "give up after this long")
	command := flag.String("command", "echo hi", "shell command of the first task")
	executorPath := flag.String("executor", "", "path of the Go executor to launch a task on (optional)")
	marker := flag.String("marker", "", "value of MESOS_GO_TEST_MARKER in the long tasks' environment")
	failover := flag.Bool("failover", false, "drop the first subscription and subscribe again with the framework id")
	flag.Parse()

	var mediaType encoding.MediaType
	switch *codecName {
	case "protobuf":
		mediaType = codecs.MediaTypeProtobuf
	case "json":
		mediaType = codecs.MediaTypeJSON
	default:
		fmt.Printf("FAIL: unknown codec %q (protobuf or json)\n", *codecName)
		os.Exit(2)
	}
	fmt.Printf("CODEC %s\n", mediaType.ContentType())

	if err := drive(*master, mediaType, *timeout, *command, *executorPath, *codecName, *marker, *failover); err != nil {
		fmt.Printf("FAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("OK")
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}

func drive(master string, mediaType encoding.MediaType, timeout time.Duration, command, executorPath, codecName, marker string, failover bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	frameworkIDStore := store.NewInMemorySingleton()
	client := httpcli.New(
		httpcli.Endpoint(strings.TrimSuffix(master, "/")+"/api/v1/scheduler"),
		httpcli.Codec(codecs.ByMediaType[mediaType]),
		httpcli.Do(httpcli.With(httpcli.Timeout(30*time.Second))),
	)
	// The library's usual stack: every call but SUBSCRIBE carries the
	// framework id Mesos gave us.
	// AllowReconnection lets a SUBSCRIBE replace a subscription the
	// scheduler left (-failover).
	caller := callrules.WithFrameworkID(store.GetIgnoreErrors(frameworkIDStore)).Caller(
		httpsched.NewCaller(client, httpsched.AllowReconnection(failover)),
	)

	r := &run{
		caller:       caller,
		endpoint:     client.Endpoint,
		states:       map[string][]string{},
		implicitSeen: map[string]string{},
		explicitSeen: map[string]string{},
		command:      command,
		executor:     executorPath,
		codec:        codecName,
		marker:       marker,
		failover:     failover,
	}
	framework := &mesos.FrameworkInfo{
		User: currentUser(),
		Name: "mesos-go compatibility scheduler",
		Capabilities: []mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE},
		},
	}
	var failoverTimeout time.Duration
	subscriptions := 1
	if failover {
		// With a failover timeout the controller subscribes again with the
		// framework id it tracked (SubscribeTo).
		failoverTimeout = time.Minute
		seconds := failoverTimeout.Seconds()
		framework.FailoverTimeout = &seconds
		subscriptions = 2
	}

	handler := eventrules.New(
		controller.LiftErrors(),
		controller.TrackSubscription(frameworkIDStore, failoverTimeout),
		controller.AckStatusUpdates(caller),
	).Handle(events.Handlers{
		scheduler.Event_SUBSCRIBED: events.HandlerFunc(r.subscribed),
		scheduler.Event_HEARTBEAT:  events.HandlerFunc(r.heartbeat),
		scheduler.Event_OFFERS:     events.HandlerFunc(r.offers),
		scheduler.Event_UPDATE:     events.HandlerFunc(r.update),
		scheduler.Event_MESSAGE:    events.HandlerFunc(r.message),
	}.Otherwise(func(_ context.Context, e *scheduler.Event) error {
		fmt.Printf("EVENT %s\n", e.GetType())
		return nil
	}))

	// As many subscriptions as planned: another one would hide a failure.
	tokens := make(chan struct{}, subscriptions)
	for i := 0; i < subscriptions; i++ {
		tokens <- struct{}{}
	}
	close(tokens)
	var streamErr error
	err := controller.Run(ctx, framework, caller,
		controller.WithEventHandler(handler),
		controller.WithFrameworkID(store.GetIgnoreErrors(frameworkIDStore)),
		controller.WithRegistrationTokens(tokens),
		controller.WithSubscriptionTerminated(func(err error) {
			if errors.Is(err, errFailover) {
				fmt.Println("SUBSCRIPTION LEFT to fail over")
			}
			streamErr = err
		}),
	)

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.phase != tornDown {
		if ctx.Err() != nil {
			return fail("timed out in phase %d (states %v)", r.phase, r.states)
		}
		if err == nil {
			err = streamErr
		}
		return fail("subscription ended in phase %d: %v", r.phase, err)
	}
	fmt.Printf("STREAM CLOSED after TEARDOWN (%v)\n", streamErr)
	if r.heartbeats == 0 {
		return fail("no HEARTBEAT event seen")
	}
	return nil
}

func (r *run) subscribed(_ context.Context, e *scheduler.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := e.GetSubscribed()
	previous := r.frameworkID
	r.frameworkID = s.GetFrameworkID().GetValue()
	r.subscriptions++
	interval := s.GetHeartbeatIntervalSeconds()
	fmt.Printf("EVENT SUBSCRIBED framework_id=%s heartbeat_interval_seconds=%g\n", r.frameworkID, interval)
	// The library moves its endpoint when a master answers 307 (a standby
	// pointing at the leader).
	fmt.Printf("ENDPOINT %s\n", r.endpoint())
	if r.frameworkID == "" {
		return fail("SUBSCRIBED without a framework id")
	}
	if interval <= 0 {
		return fail("SUBSCRIBED without a heartbeat interval")
	}
	if r.failover && r.subscriptions == 1 {
		return errFailover
	}
	if r.subscriptions > 1 && previous != r.frameworkID {
		return fail("subscribed again as %s, not %s", r.frameworkID, previous)
	}
	return nil
}

func (r *run) heartbeat(_ context.Context, _ *scheduler.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.heartbeats == 0 {
		fmt.Println("EVENT HEARTBEAT")
	}
	r.heartbeats++
	return nil
}

func (r *run) call(ctx context.Context, what string, c *scheduler.Call) error {
	if err := calls.CallNoData(ctx, r.caller, c); err != nil {
		return fail("%s call failed: %v", what, err)
	}
	fmt.Printf("CALL %s accepted\n", what)
	return nil
}

func offerIDs(offers []mesos.Offer) []mesos.OfferID {
	ids := make([]mesos.OfferID, 0, len(offers))
	for i := range offers {
		ids = append(ids, offers[i].ID)
	}
	return ids
}

func commandTask(name string, shell string, agent mesos.AgentID, from mesos.Resources) (mesos.TaskInfo, bool) {
	wants := mesos.Resources{
		resources.NewCPUs(0.1).Resource,
		resources.NewMemory(32).Resource,
	}
	found := resources.Find(wants, from...)
	if len(found) == 0 {
		return mesos.TaskInfo{}, false
	}
	return mesos.TaskInfo{
		TaskID:    mesos.TaskID{Value: name},
		Name:      name,
		AgentID:   agent,
		Resources: found,
		Command:   &mesos.CommandInfo{Value: &shell},
	}, true
}

// customTask is a task on the Go executor. The executor's type must be set
// to CUSTOM: the library always sends the field (UNKNOWN when left out),
// and Mesos refuses a LAUNCH whose executor names another type.
func (r *run) environment() *mesos.Environment {
	return &mesos.Environment{Variables: []mesos.Environment_Variable{
		{Name: "MESOS_GO_CODEC", Value: &r.codec},
		{Name: "MESOS_GO_TEST_MARKER", Value: &r.marker},
	}}
}

func (r *run) customTask(agent mesos.AgentID, from mesos.Resources) (mesos.TaskInfo, bool) {
	task, ok := commandTask(taskCustom, "", agent, from)
	if !ok {
		return task, false
	}
	from.Subtract(task.Resources...)
	executorResources := resources.Find(mesos.Resources{
		resources.NewCPUs(0.1).Resource,
		resources.NewMemory(32).Resource,
	}, from...)
	if len(executorResources) == 0 {
		return task, false
	}
	shell := false
	path := r.executor
	task.Command = nil
	task.Executor = &mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_CUSTOM,
		ExecutorID: mesos.ExecutorID{Value: executorID},
		Name:       &task.Name,
		Command: &mesos.CommandInfo{
			Value:       &path,
			Shell:       &shell,
			Arguments:   []string{path},
			Environment: r.environment(),
		},
		Resources: executorResources,
	}
	return task, true
}

func (r *run) offers(ctx context.Context, e *scheduler.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	offers := e.GetOffers().GetOffers()
	fmt.Printf("EVENT OFFERS count=%d\n", len(offers))
	if len(offers) == 0 {
		return fail("OFFERS event without offers")
	}
	for i := range offers {
		o := &offers[i]
		if o.FrameworkID.Value != r.frameworkID {
			return fail("offer %s names framework %q, not ours (%q)", o.ID.Value, o.FrameworkID.Value, r.frameworkID)
		}
		if o.AgentID.Value == "" || o.GetHostname() == "" {
			return fail("offer %s lacks agent id or hostname", o.ID.Value)
		}
		if cpus, ok := resources.CPUs(o.Resources...); !ok || cpus <= 0 {
			return fail("offer %s has no cpus: %v", o.ID.Value, o.Resources)
		}
	}

	switch r.phase {
	case waitFirstOffers:
		// Decline everything once, with a short filter, so the next
		// allocation offers the resources again.
		decline := calls.Decline(offerIDs(offers)...).With(calls.RefuseSeconds(time.Second))
		r.phase = waitSecondOffers
		return r.call(ctx, "DECLINE", decline)

	case waitSecondOffers:
		for i := range offers {
			remaining := mesos.Resources(offers[i].Resources)
			hi, ok := commandTask(taskHi, r.command, offers[i].AgentID, remaining)
			if !ok {
				continue
			}
			remaining.Subtract(hi.Resources...)
			sleeper, ok := commandTask(taskSleeper, "sleep 300", offers[i].AgentID, remaining)
			if !ok {
				continue
			}
			sleeper.Command.Environment = r.environment()
			tasks := []mesos.TaskInfo{hi, sleeper}
			what := "ACCEPT(LAUNCH hi, sleeper)"
			if r.executor != "" {
				remaining.Subtract(sleeper.Resources...)
				custom, ok := r.customTask(offers[i].AgentID, remaining)
				if !ok {
					continue
				}
				tasks = append(tasks, custom)
				what = "ACCEPT(LAUNCH hi, sleeper, custom)"
			}
			r.agentID = offers[i].AgentID.Value
			accept := calls.Accept(
				calls.OfferOperations{calls.OpLaunch(tasks...)}.WithOffers(offers[i].ID),
			).With(calls.RefuseSeconds(time.Hour))
			r.phase = waitTasks
			if err := r.call(ctx, what, accept); err != nil {
				return err
			}
			rest := append(offerIDs(offers[:i]), offerIDs(offers[i+1:])...)
			if len(rest) > 0 {
				return r.call(ctx, "DECLINE", calls.Decline(rest...).With(calls.RefuseSeconds(time.Hour)))
			}
			return nil
		}
		return fail("no offer fits the tasks (cpus:0.1;mem:32 each, and as much for the executor)")

	case tornDown:
		// Sent before the master handled TEARDOWN; the framework is gone.
		return nil

	default:
		return r.call(ctx, "DECLINE", calls.Decline(offerIDs(offers)...).With(calls.RefuseSeconds(time.Hour)))
	}
}

func last(states []string) string {
	if len(states) == 0 {
		return ""
	}
	return states[len(states)-1]
}

func (r *run) update(ctx context.Context, e *scheduler.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := e.GetUpdate().GetStatus()
	task := s.TaskID.Value
	state := s.GetState().String()
	// An unset reason reads as the enum's first value: print it only when
	// the master sent one.
	reason := "none"
	if s.Reason != nil {
		reason = s.Reason.String()
	}
	fmt.Printf("EVENT UPDATE task=%s state=%s source=%s reason=%s uuid=%t\n",
		task, state, s.GetSource(), reason, len(s.GetUUID()) > 0)

	if s.GetReason() == mesos.REASON_RECONCILIATION {
		return r.reconciled(ctx, task, s)
	}
	if len(s.GetUUID()) == 0 {
		return fail("update of %s (%s) has no uuid, so it cannot be acknowledged", task, state)
	}
	if task != taskHi && task != taskSleeper && (task != taskCustom || r.executor == "") {
		return fail("update for a task we did not launch: %q", task)
	}
	if s.GetAgentID().GetValue() != r.agentID {
		return fail("update of %s names agent %q, the task runs on %q", task, s.GetAgentID().GetValue(), r.agentID)
	}
	r.states[task] = append(r.states[task], state)

	switch r.phase {
	case waitTasks:
		if task == taskHi && s.GetState() != mesos.TASK_STARTING && s.GetState() != mesos.TASK_RUNNING &&
			s.GetState() != mesos.TASK_FINISHED {
			return fail("task hi went %s (%s)", state, s.GetMessage())
		}
		if task != taskHi && s.GetState() != mesos.TASK_STARTING && s.GetState() != mesos.TASK_RUNNING {
			return fail("task %s went %s (%s)", task, state, s.GetMessage())
		}
		if last(r.states[taskHi]) == "TASK_FINISHED" && last(r.states[taskSleeper]) == "TASK_RUNNING" &&
			(r.executor == "" || last(r.states[taskCustom]) == "TASK_RUNNING") {
			r.phase = waitImplicitReconcile
			return r.call(ctx, "RECONCILE(implicit)", calls.Reconcile())
		}
	case waitKilled:
		if task == taskHi {
			return fail("unexpected update of hi (%s) while killing", state)
		}
		switch s.GetState() {
		case mesos.TASK_KILLING:
			return fail("TASK_KILLING sent to a framework without the TASK_KILLING_STATE capability")
		case mesos.TASK_KILLED:
			if last(r.states[taskSleeper]) == "TASK_KILLED" &&
				(r.executor == "" || last(r.states[taskCustom]) == "TASK_KILLED") {
				r.phase = tornDown
				return r.call(ctx, "TEARDOWN", &scheduler.Call{Type: scheduler.Call_TEARDOWN})
			}
		default:
			return fail("task %s went %s after KILL (%s)", task, state, s.GetMessage())
		}
	default:
		return fail("unexpected update of %s (%s) in phase %d", task, state, r.phase)
	}
	return nil
}

func (r *run) kill(ctx context.Context) error {
	r.phase = waitKilled
	if err := r.call(ctx, "KILL(sleeper)", calls.Kill(taskSleeper, r.agentID)); err != nil {
		return err
	}
	if r.executor != "" {
		return r.call(ctx, "KILL(custom)", calls.Kill(taskCustom, r.agentID))
	}
	return nil
}

// message is the executor's answer to MESSAGE, relayed by agent and master.
func (r *run) message(ctx context.Context, e *scheduler.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := e.GetMessage()
	fmt.Printf("EVENT MESSAGE agent=%t executor=%s data=%q\n", m.AgentID.Value == r.agentID, m.ExecutorID.Value, m.Data)
	if r.phase != waitMessage || m.ExecutorID.Value != executorID || string(m.Data) != "pong:ping" {
		return fail("unexpected MESSAGE in phase %d", r.phase)
	}
	return r.kill(ctx)
}

// reconciled checks the master's answers to RECONCILE against what Mesos'
// master sends a PARTITION_AWARE framework.
func (r *run) reconciled(ctx context.Context, task string, s mesos.TaskStatus) error {
	if len(s.GetUUID()) > 0 {
		return fail("reconciliation update of %s carries a uuid (Mesos sends none)", task)
	}
	if s.GetSource() != mesos.SOURCE_MASTER {
		return fail("reconciliation update of %s comes from %s, not SOURCE_MASTER", task, s.GetSource())
	}
	switch r.phase {
	case waitImplicitReconcile:
		// Only the active tasks: "hi" was acknowledged as finished, so the
		// master no longer knows it.
		want := map[string]bool{taskSleeper: true, taskCustom: r.executor != ""}
		if !want[task] || s.GetState() != mesos.TASK_RUNNING || r.implicitSeen[task] != "" {
			return fail("implicit reconciliation answered %s %s, wanted sleeper (and custom) TASK_RUNNING once", task, s.GetState())
		}
		r.implicitSeen[task] = s.GetState().String()
		if !want[taskCustom] && len(r.implicitSeen) < 1 || want[taskCustom] && len(r.implicitSeen) < 2 {
			return nil
		}
		r.phase = waitExplicitReconcile
		return r.call(ctx, "RECONCILE(explicit)", calls.Reconcile(calls.ReconcileTasks(map[string]string{
			taskHi:      r.agentID,
			taskUnknown: "",
		})))
	case waitExplicitReconcile:
		want := map[string]mesos.TaskState{taskHi: mesos.TASK_GONE, taskUnknown: mesos.TASK_UNKNOWN}
		w, ok := want[task]
		if !ok || s.GetState() != w {
			return fail("explicit reconciliation answered %s %s, wanted %v", task, s.GetState(), want)
		}
		r.explicitSeen[task] = s.GetState().String()
		if len(r.explicitSeen) < len(want) {
			return nil
		}
		if r.executor != "" {
			r.phase = waitMessage
			return r.call(ctx, "MESSAGE(ping)", calls.Message(r.agentID, executorID, []byte("ping")))
		}
		return r.kill(ctx)
	default:
		return fail("unexpected reconciliation update of %s in phase %d", task, r.phase)
	}
}
