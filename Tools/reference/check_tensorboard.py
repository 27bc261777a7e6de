"""Reads a training run's TensorBoard event files with the `tensorboard` package's own reader and
checks them against the run's metrics.jsonl and steps.jsonl (not run by CI; CI tests the framing).

    python3 -m venv /opt/tbref && /opt/tbref/bin/pip install tensorboard
    /opt/tbref/bin/python Tools/reference/check_tensorboard.py runs/demo-<time>/train

Every record passes the reader's CRC-32C checks; after TensorBoard's own handling of the
SessionLog.START a resumed run writes, each step and epoch appears once, with the JSONL's values
(to float32 precision). Exit status 1 on any difference.
"""
import glob
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator, event_file_loader


def main(run):
    files = sorted(glob.glob(os.path.join(run, "events.out.tfevents.*")))
    if not files:
        sys.exit(f"{run}: no events.out.tfevents.* files")
    records, starts, raw_steps = 0, [], 0
    for f in files:  # the raw reader: framing, CRCs, Event protobufs
        for e in event_file_loader.EventFileLoader(f).Load():
            records += 1
            if e.HasField("session_log") and e.session_log.status == e.session_log.START:
                starts.append(e.step)
            raw_steps += any(v.tag == "step/loss" for v in e.summary.value)
    acc = event_accumulator.EventAccumulator(run, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    print(f"{len(files)} event file(s), {records} records, SessionLog.START at steps {starts}; "
          f"scalar tags: {', '.join(sorted(tags))}")
    kept = len(acc.Scalars("step/loss")) if "step/loss" in tags else 0
    print(f"  step/loss: {raw_steps} points written, {kept} kept after TensorBoard's purge of resumed-over steps")

    problems = [] if len(starts) == len(files) else [f"{len(starts)} SessionLog.START events in {len(files)} files"]

    def compare(tag, expected):  # expected: {step: value}
        got = {}
        for e in acc.Scalars(tag) if tag in tags else []:
            if e.step in got:
                problems.append(f"{tag}: step {e.step} appears twice")
            got[e.step] = e.value
        if sorted(got) != sorted(expected):
            problems.append(f"{tag}: steps {sorted(got)} in TensorBoard, {sorted(expected)} in the JSONL")
            return
        worst = max((abs(got[s] - v) / max(abs(v), 1e-30) for s, v in expected.items()), default=0.0)
        if worst > 1e-6:
            problems.append(f"{tag}: relative difference {worst:.2e}")
        print(f"  {tag}: {len(got)} points, max relative difference {worst:.1e}")

    steps = [json.loads(line) for line in open(os.path.join(run, "steps.jsonl")) if line.strip()]
    compare("step/loss", {int(r["step"]): r["loss"] for r in steps})
    epochs = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl")) if line.strip()]
    for key in sorted({k for r in epochs for k in r} - {"step"}):
        compare("epoch/" + key, {int(r.get("step", 0)): r[key] for r in epochs if key in r})
    for tag in ("step/learning_rate", "step/images_per_s"):
        if len(acc.Scalars(tag) if tag in tags else []) != len(steps):
            problems.append(f"{tag}: not one point per step")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("OK: the tensorboard reader agrees with metrics.jsonl and steps.jsonl")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
