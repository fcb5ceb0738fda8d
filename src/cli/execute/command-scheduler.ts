/**
 * The framework inside mesos-execute: subscribes, launches the task (or
 * task group) on the first offer that holds it, declines the rest,
 * prints and acknowledges every status update, kills the task after
 * `--kill_after`, and once every task is terminal tears the framework down.
 * The exit code is 0 only when every task finished (TASK_FINISHED).
 */
import type { Logger } from "../../common/observability/logger.js";
import type {
  ExecutorInfo,
  Offer,
  Resource,
  TaskInfo,
  TaskState,
  TaskStatus,
} from "../../common/protocol/generated/mesos-v1.js";
import { isTerminalState } from "../../common/protocol/task-states.js";
import type { Clock, TimerHandle } from "../../common/time/clock.js";
import { findOfferResources, parseResourceText } from "../../scheduler/resources.js";
import { SchedulerClient } from "../../scheduler/scheduler-client.js";
import type { ExecutionPlan } from "./plan.js";
import { statusUpdateLines } from "./print-status.js";

/** Where mesos-execute writes: status lines to `out`, problems to `err`. */
export interface ExecuteOutput {
  out(line: string): void;
  err(line: string): void;
}

/** Resources of the default executor that runs a task group, as Mesos' mesos-execute asks. */
const DEFAULT_EXECUTOR_RESOURCES = "cpus:0.1;mem:32;disk:32";

/** A running mesos-execute framework. */
export class CommandScheduler {
  private readonly client: SchedulerClient;
  private launched = false;
  private readonly taskIds: string[];
  private readonly terminal = new Map<string, TaskState>();
  private readonly killTimers = new Map<string, TimerHandle>();
  /** Calls sent and not yet answered; TEARDOWN waits for them. */
  private pendingCalls: Promise<unknown> = Promise.resolve();
  private finishing = false;
  private resolveExit: (code: number) => void = () => {};
  /** Resolves with the exit code. */
  readonly exitCode: Promise<number>;

  constructor(
    private readonly plan: ExecutionPlan,
    private readonly output: ExecuteOutput,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.client = new SchedulerClient({
      master: plan.master,
      framework: plan.framework,
      contentType: plan.contentType,
      autoAcknowledge: false,
      logger,
      clock,
      ...(plan.credential === undefined ? {} : { credential: plan.credential }),
    });
    this.taskIds =
      plan.task !== undefined
        ? [plan.task.task_id.value]
        : (plan.taskGroup?.tasks ?? []).map((t) => t.task_id.value);
    this.exitCode = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /** Subscribes and runs until every task is terminal (or the master refuses us). */
  start(): void {
    this.client.start({
      subscribed: (info) => this.output.out(`Subscribed with ID ${info.framework_id.value}`),
      offers: (offers) => this.offers(offers),
      update: (status) => this.update(status),
      error: (message) => {
        this.output.err(`Received an ERROR event: ${message}`);
        this.exit(1);
      },
    });
  }

  /** Ctrl-C: tear the framework down (killing its tasks) and exit non-zero. */
  interrupt(): void {
    if (this.finishing) return;
    this.output.err("Interrupted: tearing the framework down");
    void this.finish(130);
  }

  /** Sends a call; finishing waits for it, so it cannot land after TEARDOWN. */
  private send<T>(call: Promise<T>): Promise<T> {
    this.pendingCalls = Promise.all([this.pendingCalls, call]);
    return call;
  }

  private offers(offers: Offer[]): void {
    // Once tearing down, the master drops our offers itself; a DECLINE
    // would only race the TEARDOWN (and be refused after it).
    if (this.finishing) return;
    for (const offer of offers) {
      const launch = this.launched ? undefined : this.fit(offer);
      if (launch === undefined) {
        void this.send(this.client.decline([offer.id]));
        // Mesos' mesos-execute suppresses after any decline, so a task that
        // does not fit the first offer never sees capacity added later; we
        // stop offers only once the task is launched.
        if (this.launched) void this.send(this.client.suppress());
        continue;
      }
      this.launched = true;
      const agent = offer.agent_id.value;
      if (launch.kind === "task") {
        void this.send(this.client.launch([offer.id], [launch.task])).then((r) => {
          if (!r.ok) this.launchFailed(r.error);
        });
        this.output.out(`Submitted task '${launch.task.name}' to agent '${agent}'`);
      } else {
        void this.send(this.client.launchGroup([offer.id], launch.executor, launch.tasks)).then(
          (r) => {
            if (!r.ok) this.launchFailed(r.error);
          },
        );
        const ids = launch.tasks.map((t) => t.task_id.value).join(", ");
        this.output.out(`Submitted task group with tasks [ ${ids} ] to agent '${agent}'`);
      }
    }
  }

  /** The task(s) fitted to `offer`, or undefined when the offer is too small. */
  private fit(
    offer: Offer,
  ):
    | { kind: "task"; task: TaskInfo }
    | { kind: "group"; executor: ExecutorInfo; tasks: TaskInfo[] }
    | undefined {
    const role = this.plan.framework.role ?? "*";
    const place = (task: TaskInfo): TaskInfo | undefined => {
      const resources = findOfferResources(offer, task.resources ?? [], role);
      if (resources === undefined) return undefined;
      return { ...task, agent_id: offer.agent_id, resources };
    };
    if (this.plan.task !== undefined) {
      const task = place(this.plan.task);
      return task === undefined ? undefined : { kind: "task", task };
    }
    const tasks = this.plan.taskGroup?.tasks ?? [];
    const executorWant = parseResourceText(DEFAULT_EXECUTOR_RESOURCES);
    const wantAll: Resource[] = [
      ...tasks.flatMap((t) => t.resources ?? []),
      ...(executorWant.ok ? executorWant.resources : []),
    ];
    // Everything together must fit, or the launch would be refused.
    if (findOfferResources(offer, wantAll, role) === undefined) return undefined;
    const placed: TaskInfo[] = [];
    for (const t of tasks) {
      const p = place(t);
      if (p === undefined) return undefined;
      placed.push(p);
    }
    const executorResources = executorWant.ok
      ? findOfferResources(offer, executorWant.resources, role)
      : undefined;
    const frameworkId = this.client.frameworkId;
    const executor: ExecutorInfo = {
      type: "DEFAULT",
      executor_id: { value: "default-executor" },
      ...(frameworkId === undefined ? {} : { framework_id: frameworkId }),
      resources: executorResources ?? [],
      ...(this.plan.executorContainer === undefined
        ? {}
        : { container: this.plan.executorContainer }),
    };
    return { kind: "group", executor, tasks: placed };
  }

  private launchFailed(error: string): void {
    this.output.err(`Failed to launch: ${error}`);
    void this.finish(1);
  }

  private update(status: TaskStatus): void {
    for (const line of statusUpdateLines(status)) this.output.out(line);
    if (status.uuid !== undefined) void this.send(this.client.acknowledge(status));
    const taskId = status.task_id.value;
    if (
      this.plan.killAfterMs !== undefined &&
      status.state === "TASK_RUNNING" &&
      !this.killTimers.has(taskId)
    ) {
      const agentId = status.agent_id;
      this.killTimers.set(
        taskId,
        this.clock.setTimer(this.plan.killAfterMs, () => {
          this.output.out(`Asked to kill task '${taskId}' on agent '${agentId?.value ?? ""}'`);
          void this.send(this.client.kill({ value: taskId }, agentId));
        }),
      );
    }
    if (isTerminalState(status.state) && this.taskIds.includes(taskId)) {
      this.terminal.set(taskId, status.state);
      if (this.terminal.size === this.taskIds.length) {
        const allFinished = [...this.terminal.values()].every((s) => s === "TASK_FINISHED");
        void this.finish(allFinished ? 0 : 1);
      }
    }
  }

  private async finish(code: number): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    for (const t of this.killTimers.values()) this.clock.cancelTimer(t);
    // Calls in flight (acknowledgements above all) first, then TEARDOWN.
    await this.pendingCalls;
    if (this.client.state === "subscribed") await this.client.teardown();
    this.exit(code);
  }

  private exit(code: number): void {
    for (const t of this.killTimers.values()) this.clock.cancelTimer(t);
    this.client.close();
    this.resolveExit(code);
  }
}
