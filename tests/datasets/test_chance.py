"""Chance levels: an uninformed output scores at task_info(name)["chance"] within sampling error."""

import numpy as np
import pytest

from kpflow_sk.datasets import (
    chance_level,
    chance_output,
    list_tasks,
    make_multitask,
    make_task,
    score_task,
    task_info,
)

N = 2000


@pytest.mark.parametrize("name", list_tasks())
def test_uninformed_output_scores_at_chance(name):
    info = task_info(name)
    chance = info["chance"]
    assert 0.0 < chance < 1.0 and info["chance_output"]
    b = make_task(name, N, random_state=0)
    score = score_task(name, chance_output(name, b, random_state=1), b)
    # Binomial sampling error of a per-trial score (flip-flop averages many more entries).
    se = np.sqrt(chance * (1 - chance) / N)
    assert abs(score - chance) < 4 * se, (name, score, chance)


def test_known_chance_levels():
    # Independent values: a fifth of the circle (tolerance 0.2 pi), half the matching trials
    # are no-go (p^2 + (1 - p)^2 / 5), a binary choice.
    assert task_info("fdgo")["chance"] == pytest.approx(0.2)
    assert task_info("dmcnogo")["chance"] == pytest.approx(0.25 + 0.25 * 0.2)
    assert task_info("context_integration")["chance"] == 0.5
    # Flip-flop by simulation of the marginal guesser on the real targets.
    b = make_task("flipflop", 400, random_state=3)
    rng = np.random.default_rng(4)
    target = b.y
    p0 = np.mean(target == 0, axis=(0, 2))                       # empirical P(target = 0 | t)
    guess_zero = rng.random(target.shape) < p0[None, :, None]
    guess = np.where(guess_zero, 0.0, np.where(rng.random(target.shape) < 0.5, -1.0, 1.0))
    assert np.mean(guess == target) == pytest.approx(task_info("flipflop")["chance"], abs=0.01)
    # KPFlow: Monte Carlo of the component-wise box at random angle pairs.
    theta, phi = rng.uniform(0, 2 * np.pi, (2, 400_000))
    box = (np.abs(np.cos(phi) - np.cos(theta)) < np.pi / 10) & (
        np.abs(np.sin(phi) - np.sin(theta)) < np.pi / 10)
    assert box.mean() == pytest.approx(task_info("memory_pro")["chance"], abs=0.003)


def test_chance_depends_on_parameters_and_zero_output_is_below_chance():
    # Frequent pulses: the target is +-1 almost always, a coin flip.
    assert chance_level("flipflop", pulse_prob=0.5) == pytest.approx(0.5, abs=0.01)
    assert chance_level("flipflop", pulse_prob=0.5) > chance_level("flipflop")
    assert chance_level("sine_wave", n_frequencies=5) == pytest.approx(0.2)
    b = make_task("context_integration", 200, random_state=0)
    # A zero output makes no decision (sign 0 never matches): it scores 0, below chance.
    assert score_task("context_integration", np.zeros_like(b.y), b) == 0.0


def test_info_states_conventions():
    for name in list_tasks():
        info = task_info(name)
        assert info["mask_convention"] and info["timing"] and info["noise"]
    assert "per_batch" in task_info("fdgo")["timing"]
    assert "squared" in task_info("dm1")["mask_convention"]
    assert "noise_alpha" in task_info("dm1")["noise"]


def test_chance_output_needs_a_single_task_bunch():
    b = make_multitask(["fdgo", "dm1"], 4, random_state=0)
    with pytest.raises(ValueError, match="single-task"):
        chance_output("fdgo", b)
    with pytest.raises(ValueError, match="unknown task"):
        task_info("nope")
