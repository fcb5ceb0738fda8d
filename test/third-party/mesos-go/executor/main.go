// Command executor is a test fixture: a custom executor written with the
// third-party Go library mesos-go (executor/config, httpcli/httpexec,
// executor/calls), launched by test/third-party/mesos-go/scheduler on a
// mesos-ts agent. It reads its configuration from the MESOS_* environment the
// agent sets, subscribes to the agent's v1 executor API and:
//
//	LAUNCH       -> UPDATE TASK_RUNNING
//	MESSAGE "x"  -> a nested container session ("cat") under its own
//	                container through the agent's operator API (agent/calls,
//	                httpagent: LAUNCH_NESTED_CONTAINER_SESSION, a RecordIO
//	                stream of ProcessIO; its stdin fed by a streaming
//	                ATTACH_CONTAINER_INPUT request), and nested containers it
//	                launches, kills, waits for and removes
//	                (LAUNCH/KILL/WAIT/REMOVE_NESTED_CONTAINER), then
//	                MESSAGE "pong:x" to the scheduler
//	KILL         -> UPDATE TASK_KILLED
//	ACKNOWLEDGED -> forgets the update (checks its uuid is one it sent)
//	SHUTDOWN     -> exits 0
//
// Every step is printed to stdout (the sandbox's stdout file, which the test
// reads); "FAIL: <why>" and exit 1 on any surprise. The codec comes from
// MESOS_GO_CODEC (protobuf or json).
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/agent"
	agentcalls "github.com/mesos/mesos-go/api/v1/lib/agent/calls"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/executor/calls"
	"github.com/mesos/mesos-go/api/v1/lib/executor/config"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpagent"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpexec"
	"github.com/pborman/uuid"
)

type state struct {
	cfg       config.Config
	send      calls.Sender
	operator  agentcalls.Sender
	container *mesos.ContainerID
	opts      executor.CallOptions
	agentID   mesos.AgentID
	unacked   map[string][]byte
	tasks     map[string]mesos.TaskInfo
	framework string
}

func main() {
	if err := run(); err != nil {
		fmt.Printf("FAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("EXECUTOR EXIT")
}

func run() error {
	cfg, err := config.FromEnv()
	if err != nil {
		return fmt.Errorf("reading the agent's MESOS_* environment: %v", err)
	}
	fmt.Printf("EXECUTOR CONFIG executor_id=%s grace_period=%s checkpoint=%t\n",
		cfg.ExecutorID, cfg.ExecutorShutdownGracePeriod, cfg.Checkpoint)
	codec := codecs.ByMediaType[codecs.MediaTypeProtobuf]
	if os.Getenv("MESOS_GO_CODEC") == "json" {
		codec = codecs.ByMediaType[codecs.MediaTypeJSON]
	}
	client := httpcli.New(
		httpcli.Endpoint("http://"+cfg.AgentEndpoint+"/api/v1/executor"),
		httpcli.Codec(codec),
		httpcli.Do(httpcli.With(httpcli.Timeout(30*time.Second))),
	)
	operator := httpcli.New(
		httpcli.Endpoint("http://"+cfg.AgentEndpoint+"/api/v1"),
		httpcli.Codec(codec),
		httpcli.Do(httpcli.With(httpcli.Timeout(30*time.Second))),
	)
	s := &state{
		cfg:      cfg,
		send:     httpexec.NewSender(client.Send),
		operator: httpagent.NewSender(operator.Send),
		opts:     executor.CallOptions{calls.Framework(cfg.FrameworkID), calls.Executor(cfg.ExecutorID)},
		unacked:  map[string][]byte{},
		tasks:    map[string]mesos.TaskInfo{},
	}
	ctx := context.Background()

	subscribe := calls.Subscribe(nil, nil).With(s.opts...)
	resp, err := s.send.Send(ctx, calls.NonStreaming(subscribe))
	if err != nil {
		return fmt.Errorf("SUBSCRIBE: %v", err)
	}
	defer resp.Close()
	for {
		var e executor.Event
		if err := resp.Decode(&e); err != nil {
			return fmt.Errorf("reading the event stream: %v", err)
		}
		done, err := s.handle(ctx, &e)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func (s *state) call(ctx context.Context, what string, c *executor.Call) error {
	resp, err := s.send.Send(ctx, calls.NonStreaming(c.With(s.opts...)))
	if resp != nil {
		resp.Close()
	}
	if err != nil {
		return fmt.Errorf("%s call failed: %v", what, err)
	}
	fmt.Printf("EXECUTOR CALL %s accepted\n", what)
	return nil
}

func (s *state) update(ctx context.Context, task mesos.TaskID, st mesos.TaskState) error {
	// A version 4 UUID, as mesos-go's own example executor makes: Mesos
	// refuses 16 bytes that are not a UUID of a known version.
	uuid := []byte(uuid.NewRandom())
	now := float64(time.Now().UnixNano()) / 1e9
	status := mesos.TaskStatus{
		TaskID:     task,
		State:      st.Enum(),
		Source:     mesos.SOURCE_EXECUTOR.Enum(),
		UUID:       uuid,
		Timestamp:  &now,
		AgentID:    &s.agentID,
		ExecutorID: &mesos.ExecutorID{Value: s.cfg.ExecutorID},
	}
	s.unacked[string(uuid)] = uuid
	return s.call(ctx, fmt.Sprintf("UPDATE(%s %s)", task.Value, st), calls.Update(status))
}

func (s *state) handle(ctx context.Context, e *executor.Event) (bool, error) {
	switch e.GetType() {
	case executor.Event_SUBSCRIBED:
		sub := e.GetSubscribed()
		s.agentID = mesos.AgentID{Value: sub.AgentInfo.GetID().GetValue()}
		s.framework = sub.FrameworkInfo.GetID().GetValue()
		s.container = sub.ContainerID
		fmt.Printf("EXECUTOR EVENT SUBSCRIBED executor_id=%s framework_name=%q container_id=%t\n",
			sub.ExecutorInfo.ExecutorID.Value, sub.FrameworkInfo.Name, sub.ContainerID != nil)
		if sub.ExecutorInfo.ExecutorID.Value != s.cfg.ExecutorID || s.framework != s.cfg.FrameworkID {
			return false, fmt.Errorf("SUBSCRIBED names executor %q of framework %q, the environment %q of %q",
				sub.ExecutorInfo.ExecutorID.Value, s.framework, s.cfg.ExecutorID, s.cfg.FrameworkID)
		}
	case executor.Event_LAUNCH:
		task := e.GetLaunch().Task
		fmt.Printf("EXECUTOR EVENT LAUNCH task=%s\n", task.TaskID.Value)
		s.tasks[task.TaskID.Value] = task
		return false, s.update(ctx, task.TaskID, mesos.TASK_RUNNING)
	case executor.Event_MESSAGE:
		data := e.GetMessage().GetData()
		fmt.Printf("EXECUTOR EVENT MESSAGE data=%q\n", data)
		if err := s.nestedSession(ctx); err != nil {
			return false, err
		}
		if err := s.nestedContainers(ctx); err != nil {
			return false, err
		}
		return false, s.call(ctx, "MESSAGE", calls.Message(append([]byte("pong:"), data...)))
	case executor.Event_KILL:
		id := e.GetKill().TaskID
		fmt.Printf("EXECUTOR EVENT KILL task=%s\n", id.Value)
		if _, ok := s.tasks[id.Value]; !ok {
			return false, fmt.Errorf("KILL of a task never launched here: %s", id.Value)
		}
		delete(s.tasks, id.Value)
		return false, s.update(ctx, id, mesos.TASK_KILLED)
	case executor.Event_ACKNOWLEDGED:
		ack := e.GetAcknowledged()
		fmt.Printf("EXECUTOR EVENT ACKNOWLEDGED task=%s\n", ack.TaskID.Value)
		if !bytes.Equal(s.unacked[string(ack.UUID)], ack.UUID) {
			return false, fmt.Errorf("ACKNOWLEDGED names a uuid this executor did not send")
		}
		delete(s.unacked, string(ack.UUID))
	case executor.Event_SHUTDOWN:
		fmt.Printf("EXECUTOR EVENT SHUTDOWN unacknowledged=%d\n", len(s.unacked))
		return true, nil
	case executor.Event_ERROR:
		return false, fmt.Errorf("ERROR event: %s", e.GetError().GetMessage())
	default:
		fmt.Printf("EXECUTOR EVENT %s\n", e.GetType())
	}
	return false, nil
}

// nestedSession runs `cat` in a container nested under this executor's,
// feeds it a line and end of file, and reads its output from the session's
// stream until it ends.
func (s *state) nestedSession(ctx context.Context) error {
	if s.container == nil {
		return fmt.Errorf("SUBSCRIBED named no container id")
	}
	nested := mesos.ContainerID{Value: "go-nested", Parent: s.container}
	command := "cat"
	shell := true
	resp, err := s.operator.Send(ctx, agentcalls.NonStreaming(agentcalls.LaunchNestedContainerSession(
		nested, &mesos.CommandInfo{Value: &command, Shell: &shell}, nil)))
	if err != nil {
		return fmt.Errorf("LAUNCH_NESTED_CONTAINER_SESSION: %v", err)
	}
	defer resp.Close()
	// The session's stdin: a streaming request (RecordIO of calls): the
	// container id, a line, then empty data for end of file.
	input := make(chan *agent.Call, 3)
	input <- agentcalls.AttachContainerInput(nested)
	input <- agentcalls.AttachContainerInputData([]byte("nested-hello\n"))
	input <- agentcalls.AttachContainerInputData(nil)
	close(input)
	attach, err := s.operator.Send(ctx, agentcalls.FromChan(input))
	if attach != nil {
		attach.Close()
	}
	if err != nil {
		return fmt.Errorf("ATTACH_CONTAINER_INPUT: %v", err)
	}
	var stdout []byte
	for {
		var pio agent.ProcessIO
		if err := resp.Decode(&pio); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("LAUNCH_NESTED_CONTAINER_SESSION stream: %v", err)
		}
		if pio.GetType() == agent.ProcessIO_DATA && pio.GetData().GetType() == agent.ProcessIO_Data_STDOUT {
			stdout = append(stdout, pio.GetData().GetData()...)
		}
	}
	fmt.Printf("EXECUTOR NESTED SESSION stdout=%q\n", stdout)
	return nil
}

// nestedContainers launches two nested containers: one that exits 3 and one
// that sleeps until killed; waits for both (the wait status, as Mesos
// reports it), then removes them.
func (s *state) nestedContainers(ctx context.Context) error {
	shell := true
	launch := func(name, command string) (mesos.ContainerID, error) {
		id := mesos.ContainerID{Value: name, Parent: s.container}
		resp, err := s.operator.Send(ctx, agentcalls.NonStreaming(agentcalls.LaunchNestedContainer(
			id, &mesos.CommandInfo{Value: &command, Shell: &shell}, nil)))
		if resp != nil {
			resp.Close()
		}
		if err != nil {
			return id, fmt.Errorf("LAUNCH_NESTED_CONTAINER %s: %v", name, err)
		}
		return id, nil
	}
	wait := func(id mesos.ContainerID) (string, error) {
		resp, err := s.operator.Send(ctx, agentcalls.NonStreaming(agentcalls.WaitNestedContainer(id)))
		if err != nil {
			return "", fmt.Errorf("WAIT_NESTED_CONTAINER %s: %v", id.Value, err)
		}
		defer resp.Close()
		var r agent.Response
		if err := resp.Decode(&r); err != nil {
			return "", fmt.Errorf("WAIT_NESTED_CONTAINER %s: decoding the answer: %v", id.Value, err)
		}
		if r.GetType() != agent.Response_WAIT_NESTED_CONTAINER {
			return "", fmt.Errorf("WAIT_NESTED_CONTAINER answered with type %s", r.GetType())
		}
		if st := r.GetWaitNestedContainer().ExitStatus; st != nil {
			return fmt.Sprint(*st), nil
		}
		return "none", nil
	}
	noData := func(what string, c *agent.Call) error {
		resp, err := s.operator.Send(ctx, agentcalls.NonStreaming(c))
		if resp != nil {
			resp.Close()
		}
		if err != nil {
			return fmt.Errorf("%s: %v", what, err)
		}
		return nil
	}

	exits, err := launch("go-exits", "exit 3")
	if err != nil {
		return err
	}
	sleeps, err := launch("go-sleeps", "sleep 120")
	if err != nil {
		return err
	}
	status, err := wait(exits)
	if err != nil {
		return err
	}
	if err := noData("KILL_NESTED_CONTAINER", agentcalls.KillNestedContainer(sleeps)); err != nil {
		return err
	}
	killed, err := wait(sleeps)
	if err != nil {
		return err
	}
	for _, id := range []mesos.ContainerID{exits, sleeps} {
		if err := noData("REMOVE_NESTED_CONTAINER", agentcalls.RemoveNestedContainer(id)); err != nil {
			return err
		}
	}
	fmt.Printf("EXECUTOR NESTED CONTAINERS exit_status=%s killed_status=%s removed\n", status, killed)
	return nil
}
