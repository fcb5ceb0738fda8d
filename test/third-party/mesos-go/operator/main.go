// Command operator is a test fixture: it asks a mesos-ts master and agent
// the v1 operator API's read-only calls through the third-party Go library
// mesos-go (master/calls, agent/calls, httpcli/httpmaster, httpcli/httpagent)
// and decodes every answer with the library's own types, so a wrong field
// number, enum value, media type or a missing required field fails here.
// test/integration/third-party-mesos-go.test.ts builds and runs it.
//
// It prints one summary line per call; with -framework it also prints the
// master's view of that framework and its tasks. Exit 0 when every call was
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
)

func main() {
	masterURL := flag.String("master", "http://127.0.0.1:5050", "master URL")
	agentURL := flag.String("agent", "http://127.0.0.1:5051", "agent URL")
	codecName := flag.String("codec", "protobuf", "wire codec: protobuf or json")
	frameworkID := flag.String("framework", "", "framework id to describe (optional)")
	flag.Parse()

	mediaType := codecs.MediaTypeProtobuf
	if *codecName == "json" {
		mediaType = codecs.MediaTypeJSON
	} else if *codecName != "protobuf" {
		fmt.Printf("FAIL: unknown codec %q (protobuf or json)\n", *codecName)
		os.Exit(2)
	}
	fmt.Printf("CODEC %s\n", mediaType.ContentType())

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := askMaster(ctx, *masterURL, mediaType, *frameworkID); err != nil {
		fmt.Printf("FAIL: master: %v\n", err)
		os.Exit(1)
	}
	if err := askAgent(ctx, *agentURL, mediaType); err != nil {
		fmt.Printf("FAIL: agent: %v\n", err)
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

	if r, err = call(mastercalls.GetMetrics(nil), master.Response_GET_METRICS); err != nil {
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

func askAgent(ctx context.Context, base string, mediaType encoding.MediaType) error {
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
		return err
	}
	fmt.Printf("AGENT GET_HEALTH healthy=%t\n", r.GetGetHealth().GetHealthy())

	if r, err = call(agentcalls.GetVersion(), agent.Response_GET_VERSION); err != nil {
		return err
	}
	fmt.Printf("AGENT GET_VERSION version=%s\n", r.GetGetVersion().GetVersionInfo().Version)

	if r, err = call(agentcalls.GetFlags(), agent.Response_GET_FLAGS); err != nil {
		return err
	}
	flags := r.GetGetFlags().GetFlags()
	fmt.Printf("AGENT GET_FLAGS count=%d work_dir=%t\n", len(flags), hasFlag(flags, "work_dir"))

	if r, err = call(agentcalls.GetAgent(), agent.Response_GET_AGENT); err != nil {
		return err
	}
	fmt.Printf("AGENT GET_AGENT id=%t\n", r.GetGetAgent().GetAgentInfo().GetID().GetValue() != "")

	if r, err = call(agentcalls.GetMetrics(nil), agent.Response_GET_METRICS); err != nil {
		return err
	}
	fmt.Printf("AGENT GET_METRICS count=%d\n", len(r.GetGetMetrics().GetMetrics()))

	if r, err = call(agentcalls.GetContainers(), agent.Response_GET_CONTAINERS); err != nil {
		return err
	}
	fmt.Printf("AGENT GET_CONTAINERS containers=%d\n", len(r.GetGetContainers().GetContainers()))

	if r, err = call(agentcalls.GetFrameworks(), agent.Response_GET_FRAMEWORKS); err != nil {
		return err
	}
	fmt.Printf("AGENT GET_FRAMEWORKS frameworks=%d completed=%d\n",
		len(r.GetGetFrameworks().GetFrameworks()), len(r.GetGetFrameworks().GetCompletedFrameworks()))

	if r, err = call(agentcalls.GetExecutors(), agent.Response_GET_EXECUTORS); err != nil {
		return err
	}
	fmt.Printf("AGENT GET_EXECUTORS executors=%d completed=%d\n",
		len(r.GetGetExecutors().GetExecutors()), len(r.GetGetExecutors().GetCompletedExecutors()))

	if r, err = call(agentcalls.GetTasks(), agent.Response_GET_TASKS); err != nil {
		return err
	}
	fmt.Printf("AGENT GET_TASKS tasks=%d completed=%d\n",
		len(r.GetGetTasks().GetLaunchedTasks()), len(r.GetGetTasks().GetCompletedTasks()))

	if r, err = call(agentcalls.GetState(), agent.Response_GET_STATE); err != nil {
		return err
	}
	st := r.GetGetState()
	fmt.Printf("AGENT GET_STATE frameworks=%d completed_frameworks=%d completed_tasks=%d\n",
		len(st.GetGetFrameworks().GetFrameworks()), len(st.GetGetFrameworks().GetCompletedFrameworks()),
		len(st.GetGetTasks().GetCompletedTasks()))
	return nil
}
