// Learning-rate schedules as pure functions of the step (0-based): linear warmup then linear or
// cosine decay to a floor, as Hugging Face's get_linear/cosine_schedule_with_warmup do.
import { InfuseError } from "../../core/errors.js";

export interface ScheduleOptions {
  peakLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** LR at the end of decay (default 0). */
  minLr?: number;
}

export type Schedule = (step: number) => number;

function check(o: ScheduleOptions): void {
  if (!(o.totalSteps > 0) || o.warmupSteps < 0 || o.warmupSteps > o.totalSteps) {
    throw new InfuseError(
      "tensor.bad_schedule",
      `schedule: warmupSteps ${o.warmupSteps} and totalSteps ${o.totalSteps} are inconsistent`,
      {
        kind: "usage",
        hint: "use 0 ≤ warmupSteps ≤ totalSteps and totalSteps > 0",
      },
    );
  }
}

function warmup(o: ScheduleOptions, step: number): number | null {
  return step < o.warmupSteps ? (o.peakLr * (step + 1)) / o.warmupSteps : null;
}

export function linearSchedule(o: ScheduleOptions): Schedule {
  check(o);
  const min = o.minLr ?? 0;
  return (step) => {
    const w = warmup(o, step);
    if (w !== null) return w;
    const span = Math.max(1, o.totalSteps - o.warmupSteps);
    const frac = Math.min(1, (step - o.warmupSteps) / span);
    return min + (o.peakLr - min) * (1 - frac);
  };
}

export function cosineSchedule(o: ScheduleOptions): Schedule {
  check(o);
  const min = o.minLr ?? 0;
  return (step) => {
    const w = warmup(o, step);
    if (w !== null) return w;
    const span = Math.max(1, o.totalSteps - o.warmupSteps);
    const frac = Math.min(1, (step - o.warmupSteps) / span);
    return min + (o.peakLr - min) * 0.5 * (1 + Math.cos(Math.PI * frac));
  };
}
