"""Benchmark: zero-shot classification by prompt in the world of shapes, the tiny Stable
Diffusion (through toyclf's unchanged estimator) against a tiny CLIP trained on the same scenes.

    python benchmarks/shapes_zero_shot_benchmark.py            # the shipped models, ~15 min on 2 cores
    python benchmarks/shapes_zero_shot_benchmark.py --quick    # a few scenes each: a smoke run

Prints one markdown table: accuracy by prompt for shape, colour, and shape-and-colour on new
scenes of the training pairs, on scenes of the held-out pairs (never in a training image or
caption) and on paint-program drawings; Winoground's text, image and group scores for pairs
that swap colours, shapes or places; chance for each; ECE of both models' probabilities with
a temperature fitted on other scenes; and what the diffusion classifier's answer costs under
every trial, toyclf's early stopping and the paper's staged elimination.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from toyclf.calibration import expected_calibration_error, fit_temperature
from toyclf.paper import PAPER_PLAN
from toyclf.plan import make_plan
from toyclf.pretrained.shapes import SHAPES_MODEL, load_shapes_clip, load_shapes_denoiser
from toyclf.pretrained.shapes_evaluation import diffusion_scores, pixels, winoground_clip, winoground_diffusion
from toyclf.pretrained.tiny_clip import clip_logits
from toyclf.pruning import StagedElimination
from toyclf.scene_tests import (
    SWAPS,
    WINOGROUND_CHANCE,
    held_out_scenes,
    make_drawings,
    winoground_pairs,
    winoground_scores,
)
from toyclf.scenes import HELD_OUT_COMBINATIONS, attribute_labels, attribute_prompts, make_scenes

TASKS = ("shape", "colour", "shape_and_colour")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(SHAPES_MODEL))
    parser.add_argument("--scenes", type=int, default=150, help="test scenes per set")
    parser.add_argument("--pairs", type=int, default=60, help="Winoground pairs per swap")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.scenes, args.pairs, args.trials = 6, 3, 8
    prompts = {task: attribute_prompts(task) for task in TASKS}
    all_prompts = [p for task in TASKS for p in prompts[task]]
    offsets = dict(zip(TASKS, np.cumsum([0] + [len(prompts[t]) for t in TASKS])[:-1], strict=True))
    denoiser = load_shapes_denoiser(all_prompts, args.model, eval_batch_size=512)
    clip, tokenizer = load_shapes_clip(args.model)
    plan = make_plan(denoiser, args.trials, seed=0)

    seen_images, seen = make_scenes(args.scenes, exclude=HELD_OUT_COMBINATIONS, random_state=10_001)
    held_images, held = held_out_scenes(args.scenes, held_out=HELD_OUT_COMBINATIONS, random_state=10_002)
    drawings, drawn = make_drawings(args.scenes, random_state=10_003)
    calibration_images, calibration = make_scenes(
        max(args.scenes // 2, 30), exclude=HELD_OUT_COMBINATIONS, random_state=10_004
    )
    sets = {
        "new scenes, training pairs": (seen_images, [(s.objects[0].colour, s.objects[0].shape) for s in seen]),
        "held-out pairs": (held_images, [(s.objects[0].colour, s.objects[0].shape) for s in held]),
        "paint-program drawings": (drawings, drawn),
    }
    rows, results = [], {}
    for name, (images, pairs) in sets.items():
        x = pixels(denoiser, list(images))
        for task in TASKS:
            y, ids = attribute_labels(pairs, task), list(range(offsets[task], offsets[task] + len(prompts[task])))
            start = time.perf_counter()
            scores, _ = diffusion_scores(denoiser, x, plan, classes=ids)
            seconds = (time.perf_counter() - start) / len(x)
            start = time.perf_counter()
            logits = clip_logits(clip, tokenizer, x, prompts[task]).numpy()
            clip_seconds = (time.perf_counter() - start) / len(x)
            results[name, task] = (scores, logits, y)
            rows.append(
                f"| {name} | {task.replace('_', ' ')} ({len(ids)}) | {np.mean(scores.argmax(1) == y):.3f} "
                f"| {np.mean(logits.argmax(1) == y):.3f} | {1 / len(ids):.3f} | {seconds:.2f} s "
                f"| {seconds / clip_seconds:,.0f} |"
            )
    print(f"\n## Zero-shot accuracy by prompt ({args.scenes} images a set, {args.trials} trials)\n")
    print("| test set | prompts (classes) | diffusion | CLIP | chance | diffusion s/image | time / CLIP's |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))

    print(f"\n## Winoground in miniature ({args.pairs} pairs a swap; text / image / group scores)\n")
    print("(The paper reports the text score; the diffusion model's image score also compares how hard two")
    print("images are to denoise, whatever the caption.)\n")
    print("| swap | diffusion | CLIP | chance |\n|---|---|---|---|")
    for swap in SWAPS:
        pairs = winoground_pairs(
            args.pairs, swap, exclude=HELD_OUT_COMBINATIONS, random_state=20_000 + SWAPS.index(swap)
        )
        captions = sorted({c for pair in pairs["captions"] for c in pair})
        pair_denoiser = load_shapes_denoiser(captions, args.model, eval_batch_size=512)
        diffusion = winoground_diffusion(pair_denoiser, pairs, make_plan(pair_denoiser, args.trials, seed=0))
        x = pixels(pair_denoiser, list(pairs["images"].reshape(-1, *pairs["images"].shape[2:])))
        clip_scores = winoground_clip(clip, tokenizer, x.reshape(-1, 2, *x.shape[1:]), pairs)
        cells = []
        for scores in (diffusion, clip_scores):
            s = winoground_scores(scores)
            cells.append(" / ".join(f"{s[k]:.2f}" for k in ("text", "image", "group")))
        chance = " / ".join(f"{WINOGROUND_CHANCE[k]:.2f}" for k in ("text", "image", "group"))
        print(f"| {swap} | {cells[0]} | {cells[1]} | {chance} |")

    print("\n## Calibration, shape-and-colour prompts on new scenes (temperature fitted on other scenes)\n")
    task, ids = "shape_and_colour", list(range(offsets["shape_and_colour"], len(all_prompts)))
    xc = pixels(denoiser, list(calibration_images))
    yc = attribute_labels([(s.objects[0].colour, s.objects[0].shape) for s in calibration], task)
    scores_c, _ = diffusion_scores(denoiser, xc, plan, classes=ids)
    logits_c = clip_logits(clip, tokenizer, xc, prompts[task]).numpy()
    scores, logits, y = results["new scenes, training pairs", task]
    print("| model | temperature | ECE |\n|---|---:|---:|")
    for name, train, test in (("diffusion", scores_c, scores), ("CLIP", logits_c, logits)):
        try:
            tau = fit_temperature(-train, yc)
        except ValueError as error:  # a calibration set all right by a margin (--quick)
            print(f"| {name} | no temperature: {str(error).split(':')[0]} | |")
            continue
        proba = torch.softmax(torch.from_numpy(test / tau), 1).numpy()
        print(f"| {name} | {tau:.4g} | {expected_calibration_error(proba, y):.3f} |")
    raw = torch.softmax(torch.from_numpy(logits), 1).numpy()
    print(f"| CLIP, its own logit scale | 1 | {expected_calibration_error(raw, y):.3f} |")

    print("\n## What an answer costs: shape-and-colour prompts on new scenes\n")
    print("| rule | trials planned | accuracy | evaluations per image | s/image |\n|---|---:|---:|---:|---:|")
    n = max(args.scenes // 3, 2)
    x = pixels(denoiser, list(seen_images[:n]))
    staged = StagedElimination() if not args.quick else StagedElimination(trials=(4, 8), to_keep=(5, 1))
    paper_plan = make_plan(denoiser, staged.trials[-1], seed=0, **PAPER_PLAN)  # the paper's 500 trials
    for name, rule, rule_plan in (
        ("every trial", None, plan),
        ("early stopping (toyclf's default)", "early_stopping", plan),
        ("staged elimination 50 / 500 (the paper's Algorithm 2)", staged, paper_plan),
    ):
        start = time.perf_counter()
        scores, trials = diffusion_scores(denoiser, x, rule_plan, classes=ids, pruning=rule)
        seconds = (time.perf_counter() - start) / n
        accuracy = np.mean(scores.argmax(1) == y[:n])
        print(f"| {name} | {len(rule_plan)} | {accuracy:.3f} | {trials.sum(1).mean():.0f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
