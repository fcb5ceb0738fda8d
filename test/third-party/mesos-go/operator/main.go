// Command operator is a test fixture: it asks a mesos-ts master and agent
// the v1 operator API's read-only calls through the third-party Go library
// mesos-go (master/calls, agent/calls, httpcli/httpmaster, httpcli/httpagent)
// and decodes every answer with the library's own types, so a wrong field
// number, enum value, media type or a missing required field fails here.
// test/integration/third-party-mesos-go.test.ts builds and runs it.
//
// It prints one summary line per call; with -framework it also prints the
// master's view of that framework and its tasks. With -watch it instead
// follows the master's operator event stream (SUBSCRIBE) and prints its
// events until a framework named -watch names is removed. Exit 0 when every call was
// answered as Mesos would; "FAIL: <why>" and exit 1 otherwise.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/agent"
	agentcalls "github.com/mesos/mesos-go/api/v1/lib/agent/calls"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpagent"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpmaster"
	"github.com/mesos/mesos-go/api/v1/lib/master"
	mastercalls "github.com/mesos/mesos-go/api/v1/lib/master/calls"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
)

func main() {
	masterURL := flag.String("master", "http://127.0.0.1:5050", "master URL")
	agentURL := flag.String("agent", "http://127.0.0.1:5051", "agent URL")
	codecName := flag.String("codec", "protobuf", "wire codec: protobuf or json")
	frameworkID := flag.String("framework", "", "framework id to describe (optional)")
	watch := flag.String("watch", "", "follow the master's events until the framework of this name is removed")
	flag.Parse()

	mediaType := codecs.MediaTypeProtobuf
	if *codecName == "json" {
		mediaType = codecs.MediaTypeJSON
	} else if *codecName != "protobuf" {
		fmt.Printf("FAIL: unknown codec %q (protobuf or json)\n", *codecName)
		os.Exit(2)
	}
	fmt.Printf("CODEC %s\n", mediaType.ContentType())

	limit := 60 * time.Second
	if *watch != "" {
		// The watch lasts a whole scheduler run.
		limit = 150 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if *watch != "" {
		if err := watchMaster(ctx, *masterURL, mediaType, *watch); err != nil {
			fmt.Printf("FAIL: master events: %v\n", err)
			os.Exit(1)
		}
		fmt.Println("OK")
		return
	}
	agentID, err := askAgent(ctx, *agentURL, mediaType, *frameworkID)
	if err != nil {
		fmt.Printf("FAIL: agent: %v\n", err)
		os.Exit(1)
	}
	if err := askMaster(ctx, *masterURL, mediaType, *frameworkID); err != nil {
		fmt.Printf("FAIL: master: %v\n", err)
		os.Exit(1)
	}
	if err := operateMaster(ctx, *masterURL, mediaType, agentID); err != nil {
		fmt.Printf("FAIL: master: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("OK")
}

func client(base string, mediaType encoding.MediaType) *httpcli.Client {
	return httpcli.New(
		httpcli.Endpoint(strings.TrimSuffix(base, "/")+"/api/v1"),
		httpcli.Codec(codecs.ByMediaType[mediaType]),
		httpcli.Do(httpcli.With(httpcli.Timeout(20*time.Second))),
	)
}

func askMaster(ctx context.Context, base string, mediaType encoding.MediaType, frameworkID string) error {
	sender := httpmaster.NewSender(client(base, mediaType).Send)
	call := func(c *master.Call, want master.Response_Type) (*master.Response, error) {
		resp, err := sender.Send(ctx, mastercalls.NonStreaming(c))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", c.GetType(), err)
		}
		defer resp.Close()
		var r master.Response
		if err := resp.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s: decoding the answer: %v", c.GetType(), err)
		}
		if r.GetType() != want {
			return nil, fmt.Errorf("%s answered with type %s", c.GetType(), r.GetType())
		}
		return &r, nil
	}

	r, err := call(mastercalls.GetHealth(), master.Response_GET_HEALTH)
	if err != nil {
		return err
	}
	fmt.Printf("MASTER GET_HEALTH healthy=%t\n", r.GetGetHealth().GetHealthy())

	if r, err = call(mastercalls.GetVersion(), master.Response_GET_VERSION); err != nil {
		return err
	}
	fmt.Printf("MASTER GET_VERSION version=%s\n", r.GetGetVersion().GetVersionInfo().Version)

	if r, err = call(mastercalls.GetFlags(), master.Response_GET_FLAGS); err != nil {
		return err
	}
	flags := r.GetGetFlags().GetFlags()
	fmt.Printf("MASTER GET_FLAGS count=%d work_dir=%t\n", len(flags), hasFlag(flags, "work_dir"))

	if r, err = call(mastercalls.GetMaster(), master.Response_GET_MASTER); err != nil {
		return err
	}
	info := r.GetGetMaster().GetMasterInfo()
	if info == nil {
		return fmt.Errorf("GET_MASTER without master_info")
	}
	fmt.Printf("MASTER GET_MASTER id=%t port=%d\n", info.ID != "", info.GetPort())

	timeout := 5 * time.Second
	if r, err = call(mastercalls.GetMetrics(&timeout), master.Response_GET_METRICS); err != nil {
		return err
	}
	fmt.Printf("MASTER GET_METRICS count=%d\n", len(r.GetGetMetrics().GetMetrics()))

	if r, err = call(mastercalls.GetAgents(), master.Response_GET_AGENTS); skew(err) {
		fmt.Printf("SKEW MASTER GET_AGENTS: %v\n", err)
	} else if err != nil {
		return err
	} else {
		agents := r.GetGetAgents().GetAgents()
		active := 0
		for _, a := range agents {
			if a.Active {
				active++
			}
		}
		fmt.Printf("MASTER GET_AGENTS agents=%d active=%d\n", len(agents), active)
	}

	if r, err = call(mastercalls.GetFrameworks(), master.Response_GET_FRAMEWORKS); err != nil {
		return err
	}
	fws := r.GetGetFrameworks()
	fmt.Printf("MASTER GET_FRAMEWORKS frameworks=%d completed=%d\n", len(fws.GetFrameworks()), len(fws.GetCompletedFrameworks()))
	if frameworkID != "" {
		for _, f := range fws.GetFrameworks() {
			if f.FrameworkInfo.GetID().GetValue() == frameworkID {
				fmt.Printf("FRAMEWORK %s active=%t name=%q\n", frameworkID, f.Active, f.FrameworkInfo.Name)
			}
		}
		for _, f := range fws.GetCompletedFrameworks() {
			if f.FrameworkInfo.GetID().GetValue() == frameworkID {
				fmt.Printf("FRAMEWORK %s completed name=%q\n", frameworkID, f.FrameworkInfo.Name)
			}
		}
	}

	if r, err = call(mastercalls.GetTasks(), master.Response_GET_TASKS); err != nil {
		return err
	}
	tasks := r.GetGetTasks()
	fmt.Printf("MASTER GET_TASKS tasks=%d completed=%d\n", len(tasks.GetTasks()), len(tasks.GetCompletedTasks()))
	if frameworkID != "" {
		printTasks("active", frameworkID, tasks.GetTasks())
		printTasks("completed", frameworkID, tasks.GetCompletedTasks())
	}

	if r, err = call(mastercalls.GetExecutors(), master.Response_GET_EXECUTORS); err != nil {
		return err
	}
	fmt.Printf("MASTER GET_EXECUTORS executors=%d\n", len(r.GetGetExecutors().GetExecutors()))

	if r, err = call(mastercalls.GetRoles(), master.Response_GET_ROLES); err != nil {
		return err
	}
	fmt.Printf("MASTER GET_ROLES roles=%d\n", len(r.GetGetRoles().GetRoles()))

	if r, err = call(mastercalls.GetState(), master.Response_GET_STATE); skew(err) {
		fmt.Printf("SKEW MASTER GET_STATE: %v\n", err)
		return subscribeMaster(ctx, base, mediaType)
	} else if err != nil {
		return err
	}
	st := r.GetGetState()
	fmt.Printf("MASTER GET_STATE agents=%d frameworks=%d completed_frameworks=%d tasks=%d completed_tasks=%d\n",
		len(st.GetGetAgents().GetAgents()), len(st.GetGetFrameworks().GetFrameworks()),
		len(st.GetGetFrameworks().GetCompletedFrameworks()), len(st.GetGetTasks().GetTasks()),
		len(st.GetGetTasks().GetCompletedTasks()))

	return subscribeMaster(ctx, base, mediaType)
}

// subscribeMaster reads the first event of the operator event stream, which
// Mesos makes a SUBSCRIBED carrying the whole state.
func subscribeMaster(ctx context.Context, base string, mediaType encoding.MediaType) error {
	sender := httpmaster.NewSender(client(base, mediaType).Send)
	resp, err := sender.Send(ctx, mastercalls.NonStreaming(mastercalls.Subscribe()))
	if err != nil {
		return fmt.Errorf("SUBSCRIBE: %v", err)
	}
	defer resp.Close()
	var e master.Event
	if err := resp.Decode(&e); skew(err) {
		fmt.Printf("SKEW MASTER SUBSCRIBE: %v\n", err)
		return nil
	} else if err != nil {
		return fmt.Errorf("SUBSCRIBE: decoding the first event: %v", err)
	}
	if e.GetType() != master.Event_SUBSCRIBED || e.GetSubscribed() == nil {
		return fmt.Errorf("SUBSCRIBE: first event is %s", e.GetType())
	}
	fmt.Printf("MASTER SUBSCRIBE first_event=%s agents=%d\n", e.GetType(),
		len(e.GetSubscribed().GetGetState().GetGetAgents().GetAgents()))
	return nil
}

// skew tells the one failure that is the library's age, not the server's:
// mesos-go 0.0.6 was generated from Mesos 1.5-era protos, and its JSON
// decoder (unlike its protobuf one, which keeps unknown enum numbers) rejects
// agent capability names added since (RESOURCE_PROVIDER, AGENT_DRAINING...),
// which Mesos 1.12 agents must all report. Real Mesos fails it the same way.
func skew(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unrecognized enum AgentInfo_Capability_Type value")
}

func printTasks(kind string, frameworkID string, tasks []mesos.Task) {
	lines := []string{}
	for _, t := range tasks {
		if t.FrameworkID.Value == frameworkID {
			lines = append(lines, fmt.Sprintf("TASK %s %s %s", kind, t.TaskID.Value, t.GetState()))
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

func hasFlag(flags []mesos.Flag, name string) bool {
	for _, f := range flags {
		if f.Name == name {
			return true
		}
	}
	return false
}

// askAgent returns the agent's id.
func askAgent(ctx context.Context, base string, mediaType encoding.MediaType, frameworkID string) (string, error) {
	sender := httpagent.NewSender(client(base, mediaType).Send)
	call := func(c *agent.Call, want agent.Response_Type) (*agent.Response, error) {
		resp, err := sender.Send(ctx, agentcalls.NonStreaming(c))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", c.GetType(), err)
		}
		defer resp.Close()
		var r agent.Response
		if err := resp.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s: decoding the answer: %v", c.GetType(), err)
		}
		if r.GetType() != want {
			return nil, fmt.Errorf("%s answered with type %s", c.GetType(), r.GetType())
		}
		return &r, nil
	}

	r, err := call(agentcalls.GetHealth(), agent.Response_GET_HEALTH)
	if err != nil {
		return "", err
	}
	fmt.Printf("AGENT GET_HEALTH healthy=%t\n", r.GetGetHealth().GetHealthy())

	if r, err = call(agentcalls.GetVersion(), agent.Response_GET_VERSION); err != nil {
		return "", err
	}
	fmt.Printf("AGENT GET_VERSION version=%s\n", r.GetGetVersion().GetVersionInfo().Version)

	if r, err = call(agentcalls.GetFlags(), agent.Response_GET_FLAGS); err != nil {
		return "", err
	}
	flags := r.GetGetFlags().GetFlags()
	fmt.Printf("AGENT GET_FLAGS count=%d work_dir=%t\n", len(flags), hasFlag(flags, "work_dir"))

	if r, err = call(agentcalls.GetAgent(), agent.Response_GET_AGENT); err != nil {
		return "", err
	}
	agentID := r.GetGetAgent().GetAgentInfo().GetID().GetValue()
	fmt.Printf("AGENT GET_AGENT id=%t\n", agentID != "")

	if r, err = call(agentcalls.GetMetrics(nil), agent.Response_GET_METRICS); err != nil {
		return "", err
	}
	fmt.Printf("AGENT GET_METRICS count=%d\n", len(r.GetGetMetrics().GetMetrics()))

	if r, err = call(agentcalls.GetContainers(), agent.Response_GET_CONTAINERS); err != nil {
		return "", err
	}
	fmt.Printf("AGENT GET_CONTAINERS containers=%d\n", len(r.GetGetContainers().GetContainers()))

	if r, err = call(agentcalls.GetFrameworks(), agent.Response_GET_FRAMEWORKS); err != nil {
		return "", err
	}
	fmt.Printf("AGENT GET_FRAMEWORKS frameworks=%d completed=%d\n",
		len(r.GetGetFrameworks().GetFrameworks()), len(r.GetGetFrameworks().GetCompletedFrameworks()))

	if r, err = call(agentcalls.GetExecutors(), agent.Response_GET_EXECUTORS); err != nil {
		return "", err
	}
	fmt.Printf("AGENT GET_EXECUTORS executors=%d completed=%d\n",
		len(r.GetGetExecutors().GetExecutors()), len(r.GetGetExecutors().GetCompletedExecutors()))

	if r, err = call(agentcalls.GetTasks(), agent.Response_GET_TASKS); err != nil {
		return "", err
	}
	fmt.Printf("AGENT GET_TASKS tasks=%d completed=%d\n",
		len(r.GetGetTasks().GetLaunchedTasks()), len(r.GetGetTasks().GetCompletedTasks()))

	if r, err = call(agentcalls.GetState(), agent.Response_GET_STATE); err != nil {
		return "", err
	}
	st := r.GetGetState()
	fmt.Printf("AGENT GET_STATE frameworks=%d completed_frameworks=%d completed_tasks=%d\n",
		len(st.GetGetFrameworks().GetFrameworks()), len(st.GetGetFrameworks().GetCompletedFrameworks()),
		len(st.GetGetTasks().GetCompletedTasks()))

	if r, err = call(agentcalls.GetLoggingLevel(), agent.Response_GET_LOGGING_LEVEL); err != nil {
		return "", err
	}
	fmt.Printf("AGENT GET_LOGGING_LEVEL level=%d\n", r.GetGetLoggingLevel().GetLevel())
	if err := noData(ctx, "SET_LOGGING_LEVEL", func() (mesos.Response, error) {
		return sender.Send(ctx, agentcalls.NonStreaming(agentcalls.SetLoggingLevel(1, 2*time.Second)))
	}); err != nil {
		return "", err
	}
	fmt.Println("AGENT SET_LOGGING_LEVEL ok")

	if frameworkID == "" {
		return agentID, nil
	}
	// The Go executor's sandbox, by the virtual path the agent attaches.
	sandbox := "/frameworks/" + frameworkID + "/executors/go-executor/runs/latest"
	if r, err = call(agentcalls.ListFiles(sandbox), agent.Response_LIST_FILES); err != nil {
		return "", err
	}
	names := []string{}
	for _, f := range r.GetListFiles().GetFileInfos() {
		names = append(names, strings.TrimPrefix(f.Path, sandbox+"/"))
	}
	sort.Strings(names)
	fmt.Printf("AGENT LIST_FILES sandbox=%s\n", strings.Join(names, ","))
	for _, name := range []string{"stdout", "stderr"} {
		if r, err = call(agentcalls.ReadFile(sandbox+"/"+name, 0), agent.Response_READ_FILE); err != nil {
			return "", err
		}
		rf := r.GetReadFile()
		fmt.Printf("AGENT READ_FILE %s size=%d read=%d executor_exit=%t\n", name, rf.GetSize(), len(rf.GetData()),
			strings.Contains(string(rf.GetData()), "EXECUTOR EXIT"))
	}
	return agentID, nil
}

// noData sends a call the library expects no answer body for (202, or 200
// without a Content-Type).
func noData(ctx context.Context, what string, send func() (mesos.Response, error)) error {
	resp, err := send()
	if resp != nil {
		resp.Close()
	}
	if err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	return nil
}

// operateMaster makes the master calls that change something, each undone
// or short-lived: logging level, weights, a dynamic reservation.
func operateMaster(ctx context.Context, base string, mediaType encoding.MediaType, agentID string) error {
	sender := httpmaster.NewSender(client(base, mediaType).Send)
	send := func(c *master.Call) func() (mesos.Response, error) {
		return func() (mesos.Response, error) { return sender.Send(ctx, mastercalls.NonStreaming(c)) }
	}
	call := func(c *master.Call, want master.Response_Type) (*master.Response, error) {
		resp, err := send(c)()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", c.GetType(), err)
		}
		defer resp.Close()
		var r master.Response
		if err := resp.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s: decoding the answer: %v", c.GetType(), err)
		}
		if r.GetType() != want {
			return nil, fmt.Errorf("%s answered with type %s", c.GetType(), r.GetType())
		}
		return &r, nil
	}

	if err := noData(ctx, "SET_LOGGING_LEVEL", send(mastercalls.SetLoggingLevel(1, 2*time.Second))); err != nil {
		return err
	}
	r, err := call(mastercalls.GetLoggingLevel(), master.Response_GET_LOGGING_LEVEL)
	if err != nil {
		return err
	}
	fmt.Printf("MASTER SET_LOGGING_LEVEL then GET_LOGGING_LEVEL level=%d\n", r.GetGetLoggingLevel().GetLevel())

	role := "go-role"
	weight := mesos.WeightInfo{Role: &role, Weight: 2.5}
	if err := noData(ctx, "UPDATE_WEIGHTS", send(mastercalls.UpdateWeights(weight))); err != nil {
		return err
	}
	if r, err = call(mastercalls.GetWeights(), master.Response_GET_WEIGHTS); err != nil {
		return err
	}
	for _, w := range r.GetGetWeights().GetWeightInfos() {
		fmt.Printf("MASTER GET_WEIGHTS role=%s weight=%g\n", w.GetRole(), w.Weight)
	}

	if r, err = call(mastercalls.GetQuota(), master.Response_GET_QUOTA); err != nil {
		return err
	}
	fmt.Printf("MASTER GET_QUOTA infos=%d\n", len(r.GetGetQuota().Status.GetInfos()))
	if r, err = call(mastercalls.GetMaintenanceStatus(), master.Response_GET_MAINTENANCE_STATUS); err != nil {
		return err
	}
	fmt.Printf("MASTER GET_MAINTENANCE_STATUS draining=%d down=%d\n",
		len(r.GetGetMaintenanceStatus().Status.GetDrainingMachines()), len(r.GetGetMaintenanceStatus().Status.GetDownMachines()))
	if r, err = call(mastercalls.GetMaintenanceSchedule(), master.Response_GET_MAINTENANCE_SCHEDULE); err != nil {
		return err
	}
	fmt.Printf("MASTER GET_MAINTENANCE_SCHEDULE windows=%d\n", len(r.GetGetMaintenanceSchedule().Schedule.GetWindows()))

	// A dynamic reservation in the "reservations" (refinement) form.
	dynamic := mesos.Resource_ReservationInfo_DYNAMIC
	reserved := resources.NewCPUs(0.5).Resource
	reserved.Reservations = []mesos.Resource_ReservationInfo{{Type: &dynamic, Role: &role}}
	id := mesos.AgentID{Value: agentID}
	if err := noData(ctx, "RESERVE_RESOURCES", send(mastercalls.ReserveResources(id, reserved))); err != nil {
		return err
	}
	fmt.Println("MASTER RESERVE_RESOURCES accepted")
	if r, err = call(mastercalls.GetAgents(), master.Response_GET_AGENTS); skew(err) {
		fmt.Printf("SKEW MASTER GET_AGENTS: %v\n", err)
	} else if err != nil {
		return err
	} else {
		for _, a := range r.GetGetAgents().GetAgents() {
			for _, res := range a.TotalResources {
				if n := len(res.Reservations); n > 0 {
					fmt.Printf("MASTER GET_AGENTS reserved %s=%g role=%s type=%s\n", res.Name,
						res.GetScalar().GetValue(), res.Reservations[n-1].GetRole(), res.Reservations[n-1].GetType())
				}
			}
		}
	}
	if err := noData(ctx, "UNRESERVE_RESOURCES", send(mastercalls.UnreserveResources(id, reserved))); err != nil {
		return err
	}
	fmt.Println("MASTER UNRESERVE_RESOURCES accepted")
	return nil
}

// watchMaster prints the operator events of the master until the framework
// named `name` is removed.
func watchMaster(ctx context.Context, base string, mediaType encoding.MediaType, name string) error {
	sender := httpmaster.NewSender(client(base, mediaType).Send)
	resp, err := sender.Send(ctx, mastercalls.NonStreaming(mastercalls.Subscribe()))
	if err != nil {
		return fmt.Errorf("SUBSCRIBE: %v", err)
	}
	defer resp.Close()
	for {
		var e master.Event
		if err := resp.Decode(&e); err != nil {
			return fmt.Errorf("reading the event stream: %v", err)
		}
		switch e.GetType() {
		case master.Event_SUBSCRIBED:
			fmt.Println("WATCH SUBSCRIBED")
		case master.Event_TASK_ADDED:
			t := e.GetTaskAdded().Task
			fmt.Printf("WATCH TASK_ADDED task=%s state=%s\n", t.TaskID.Value, t.GetState())
		case master.Event_TASK_UPDATED:
			u := e.GetTaskUpdated()
			fmt.Printf("WATCH TASK_UPDATED task=%s state=%s status=%s\n",
				u.Status.TaskID.Value, u.GetState(), u.Status.GetState())
		case master.Event_FRAMEWORK_ADDED:
			fmt.Printf("WATCH FRAMEWORK_ADDED name=%q\n", e.GetFrameworkAdded().Framework.FrameworkInfo.Name)
		case master.Event_FRAMEWORK_UPDATED:
			fmt.Printf("WATCH FRAMEWORK_UPDATED name=%q\n", e.GetFrameworkUpdated().Framework.FrameworkInfo.Name)
		case master.Event_FRAMEWORK_REMOVED:
			removed := e.GetFrameworkRemoved().FrameworkInfo.Name
			fmt.Printf("WATCH FRAMEWORK_REMOVED name=%q\n", removed)
			if removed == name {
				return nil
			}
		default:
			// HEARTBEAT (9) and later types are newer than the library.
		}
	}
}
