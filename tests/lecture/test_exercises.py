"""The exercises of notebook 06 (``toyclf.lecture.exercises``): each checker passes the library's own
function and a student's correct one, names every known mistake in its own words (each mistake
written here as a student would write it), and reports a function that raises, returns the wrong
shape, returns None or is not written yet, without raising; only a non-function is a TypeError."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import toyclf.lecture.exercises
from toyclf import DiffusionClassifier, make_spirals, probability_map
from toyclf.estimator import class_errors as library_class_errors
from toyclf.estimator import log_posterior, reference_class_errors
from toyclf.lecture.checking import CheckResult
from toyclf.lecture.exercises import (
    NearestCentres,
    check_add_noise,
    check_class_errors,
    check_decision_map,
    check_denoising_error,
    check_posterior,
)
from toyclf.schedule import NoiseSchedule
from toyclf.training import seeded_mlp
from toyclf.weighting import denoising_loss

# --- correct answers: the library's own, and a student's ------------------------------------------


def add_noise(x0, noise, t, alphas_cumprod):
    abar = alphas_cumprod[t][:, None]  # [B, 1]
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def denoising_error(denoiser, x0, noise, t, label):
    abar = denoiser.schedule.alphas_cumprod.float()[t][:, None]
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    eps_hat = denoiser.predict_noise(x_t, t, torch.full_like(t, label))
    return (noise - eps_hat).square().sum(1)


def posterior(errors, temperature=1.0):
    return torch.softmax(-errors / temperature, dim=1)


def class_errors(denoiser, x, plan):  # notebook 01's steps 2-4, vectorised
    B, N, K = len(x), len(plan), denoiser.n_classes
    abar = denoiser.schedule.alphas_cumprod.float()[plan.timesteps][:, None]  # [N, 1]
    x_t = abar.sqrt() * x[:, None, :] + (1 - abar).sqrt() * plan.noise  # [B, N, 2]
    t = plan.timesteps.repeat(B)  # [B*N]
    eps_hat = torch.stack(
        [denoiser.predict_noise(x_t.reshape(-1, 2), t, torch.full_like(t, k)).reshape(B, N, 2) for k in range(K)], 1
    )  # [B, K, N, 2]
    return (plan.noise - eps_hat).square().sum(-1).mean(-1)  # [B, K]


def decision_map(classifier, xx, yy):
    points = np.column_stack([xx.ravel(), yy.ravel()])  # [ny * nx, 2]
    return classifier.predict_proba(points).argmax(1).reshape(xx.shape)


def library_add_noise(x0, noise, t, alphas_cumprod):
    return NoiseSchedule(alphas_cumprod).add_noise(x0, noise, t)


def library_denoising_error(denoiser, x0, noise, t, label):
    x_t = denoiser.schedule.add_noise(x0, noise, t)
    return denoising_loss(noise, denoiser.predict_noise(x_t, t, torch.full_like(t, label)))


def library_posterior(errors, temperature=1.0):
    return log_posterior(errors, temperature=temperature).exp()


def library_decision_map(classifier, xx, yy):
    return probability_map(classifier, xx, yy, coarse_step=1).argmax(-1)


@pytest.fixture(scope="module")
def small_classifier() -> DiffusionClassifier:
    X, y = make_spirals(200, noise=0.2, random_state=0)
    return DiffusionClassifier(max_iter=60, hidden_size=16, n_trials=8, random_state=0).fit(X, y)


def two_class_denoiser():
    return seeded_mlp(2, 2, NoiseSchedule.linear(200), seed=1, hidden_size=16)


@pytest.mark.parametrize(
    "checker, function",
    [
        (check_add_noise, add_noise),
        (check_add_noise, library_add_noise),
        (check_denoising_error, denoising_error),
        (check_denoising_error, library_denoising_error),
        (check_posterior, posterior),
        (check_posterior, library_posterior),
        (check_class_errors, class_errors),
        (check_class_errors, reference_class_errors),
        pytest.param(check_class_errors, library_class_errors, id="check_class_errors-fast_class_errors"),
        (check_decision_map, decision_map),
        (check_decision_map, library_decision_map),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_correct_function_passes(checker, function):
    result = checker(function)
    assert isinstance(result, CheckResult)
    assert result.passed, result.message
    assert result.message.startswith("correct: ") and "rtol 1e-4, atol 1e-5" in result.message
    assert str(result).startswith(f"✓ {result.exercise}: correct")


def test_the_checks_take_any_denoiser_and_classifier(prototype_denoiser, small_classifier):
    """The exact denoiser of three prototypes (T = 100), an MLP of two classes, a trained classifier."""
    for denoiser in (prototype_denoiser, two_class_denoiser()):
        assert check_denoising_error(denoising_error, denoiser).passed
        assert check_class_errors(class_errors, denoiser).passed
        assert check_class_errors(library_class_errors, denoiser).passed
        assert not check_class_errors(lambda d, x, plan: class_errors(d, x, plan) + 0.01, denoiser).passed
    # (the exact denoiser's errors do not depend on eps, so on it a class's own eps cannot be told: the MLP's do)
    assert "each class drew its own eps" in check_class_errors(own_noise_per_class, two_class_denoiser()).message
    # two classes and two coordinates: a size of two names both
    assert check_class_errors(mean_over_classes, two_class_denoiser()).message == (
        "you averaged over the wrong axis (classes instead of trials) "
        "(got (5, 8) = [points, trials], expected (5, 2) = [points, classes])"
    )
    wrong = check_class_errors(lambda d, x, plan: class_errors(d, x, plan)[:, :1], two_class_denoiser())
    assert wrong.message == "wrong shape: got (5, 1) = [points, 1], expected (5, 2) = [points, classes]"
    assert check_decision_map(decision_map, small_classifier).passed
    assert check_decision_map(library_decision_map, small_classifier).passed


# --- the known mistakes, as a student would make them ----------------------------------------------


def abar_instead_of_sqrt(x0, noise, t, alphas_cumprod):
    abar = alphas_cumprod[t][:, None]
    return abar * x0 + (1 - abar).sqrt() * noise


def one_minus_abar_noise(x0, noise, t, alphas_cumprod):
    abar = alphas_cumprod[t][:, None]
    return abar.sqrt() * x0 + (1 - abar) * noise


def variances_as_scales(x0, noise, t, alphas_cumprod):
    abar = alphas_cumprod[t][:, None]
    return abar * x0 + (1 - abar) * noise


def swapped_scales(x0, noise, t, alphas_cumprod):
    abar = alphas_cumprod[t][:, None]
    return (1 - abar).sqrt() * x0 + abar.sqrt() * noise


def one_minus_sqrt(x0, noise, t, alphas_cumprod):
    abar = alphas_cumprod[t][:, None]
    return abar.sqrt() * x0 + (1 - abar.sqrt()) * noise


def no_noise(x0, noise, t, alphas_cumprod):
    return alphas_cumprod[t][:, None].sqrt() * x0


def not_broadcast(x0, noise, t, alphas_cumprod):
    abar = alphas_cumprod[t]  # [B]: does not broadcast against [B, 2]
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def error_parts(denoiser, x0, noise, t, label):
    x_t = denoiser.schedule.add_noise(x0, noise, t)
    return x_t, denoiser.predict_noise(x_t, t, torch.full_like(t, label))


def mean_over_coordinates(denoiser, x0, noise, t, label):
    return (noise - error_parts(denoiser, x0, noise, t, label)[1]).square().mean(1)


def norm_not_squared(denoiser, x0, noise, t, label):
    return (noise - error_parts(denoiser, x0, noise, t, label)[1]).norm(dim=1)


def l1_error(denoiser, x0, noise, t, label):
    return (noise - error_parts(denoiser, x0, noise, t, label)[1]).abs().sum(1)


def compared_with_x0(denoiser, x0, noise, t, label):
    return (x0 - error_parts(denoiser, x0, noise, t, label)[1]).square().sum(1)


def clean_input(denoiser, x0, noise, t, label):
    return (noise - denoiser.predict_noise(x0, t, torch.full_like(t, label))).square().sum(1)


def x_t_with_abar(denoiser, x0, noise, t, label):
    abar = denoiser.schedule.alphas_cumprod.float()[t][:, None]
    x_t = abar * x0 + (1 - abar).sqrt() * noise
    return (noise - denoiser.predict_noise(x_t, t, torch.full_like(t, label))).square().sum(1)


def class_zero(denoiser, x0, noise, t, label):
    return library_denoising_error(denoiser, x0, noise, t, 0)


def per_coordinate(denoiser, x0, noise, t, label):
    return (noise - error_parts(denoiser, x0, noise, t, label)[1]).square()


def mean_over_points(denoiser, x0, noise, t, label):
    return library_denoising_error(denoiser, x0, noise, t, label).mean()


def float64_x_t(denoiser, x0, noise, t, label):
    abar = denoiser.schedule.alphas_cumprod[t][:, None]  # float64: x_t becomes float64
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    return (noise - denoiser.predict_noise(x_t, t, torch.full_like(t, label))).square().sum(1)


def int_label(denoiser, x0, noise, t, label):
    x_t = denoiser.schedule.add_noise(x0, noise, t)
    return (noise - denoiser.predict_noise(x_t, t, label)).square().sum(1)


def sign_flipped(errors, temperature=1.0):
    return torch.softmax(errors / temperature, dim=1)


def over_points(errors, temperature=1.0):
    return torch.softmax(-errors / temperature, dim=0)


def log_probabilities(errors, temperature=1.0):
    return torch.log_softmax(-errors / temperature, dim=1)


def unnormalised(errors, temperature=1.0):
    return torch.exp(-errors / temperature)


def times_temperature(errors, temperature=1.0):
    return torch.softmax(-errors * temperature, dim=1)


def no_temperature(errors, temperature=1.0):
    return torch.softmax(-errors, dim=1)


def losses_per_trial(denoiser, x, plan):
    """[B, K, N]: notebook 01's steps 2-4 without the mean."""
    B, N, K = len(x), len(plan), denoiser.n_classes
    abar = denoiser.schedule.alphas_cumprod.float()[plan.timesteps][:, None]
    x_t = abar.sqrt() * x[:, None, :] + (1 - abar).sqrt() * plan.noise  # [B, N, 2]
    t = plan.timesteps.repeat(B)
    eps_hat = torch.stack(
        [denoiser.predict_noise(x_t.reshape(-1, 2), t, torch.full_like(t, k)).reshape(B, N, 2) for k in range(K)], 1
    )
    return (plan.noise - eps_hat).square()  # [B, K, N, 2]


def own_noise_per_class(denoiser, x, plan):
    B, K = len(x), denoiser.n_classes
    errors = torch.zeros(B, K)
    for k in range(K):
        generator = torch.Generator().manual_seed(k)  # seeded, so repeatable, but not shared
        for t_n in plan.timesteps:
            t, eps = t_n.repeat(B), torch.randn(B, 2, generator=generator)
            x_t = denoiser.schedule.add_noise(x, eps, t)
            errors[:, k] += (eps - denoiser.predict_noise(x_t, t, torch.full_like(t, k))).square().sum(1)
    return errors / len(plan)


def own_shared_noise(denoiser, x, plan):
    B, K = len(x), denoiser.n_classes
    errors = torch.zeros(B, K)
    for t_n in plan.timesteps:
        t, eps = t_n.repeat(B), torch.randn(B, 2)  # shared by the classes, but not the plan's
        x_t = denoiser.schedule.add_noise(x, eps, t)
        for k in range(K):
            errors[:, k] += (eps - denoiser.predict_noise(x_t, t, torch.full_like(t, k))).square().sum(1)
    return errors / len(plan)


def mean_over_classes(denoiser, x, plan):
    return losses_per_trial(denoiser, x, plan).sum(-1).mean(1)  # [B, N]


def no_mean(denoiser, x, plan):
    return losses_per_trial(denoiser, x, plan).sum(-1)  # [B, K, N]


def transposed_errors(denoiser, x, plan):
    return class_errors(denoiser, x, plan).T  # [K, B]


def sum_over_trials(denoiser, x, plan):
    return losses_per_trial(denoiser, x, plan).sum(-1).sum(-1)


def errors_mean_over_coordinates(denoiser, x, plan):
    return losses_per_trial(denoiser, x, plan).mean(-1).mean(-1)


def swapped_x_and_y(classifier, xx, yy):
    points = np.column_stack([yy.ravel(), xx.ravel()])
    return classifier.predict_proba(points).argmax(1).reshape(xx.shape)


def argmin_of_probabilities(classifier, xx, yy):
    points = np.column_stack([xx.ravel(), yy.ravel()])
    return classifier.predict_proba(points).argmin(1).reshape(xx.shape)


def probabilities(classifier, xx, yy):
    points = np.column_stack([xx.ravel(), yy.ravel()])
    return classifier.predict_proba(points).reshape(*xx.shape, -1)


def flat(classifier, xx, yy):
    return classifier.predict_proba(np.column_stack([xx.ravel(), yy.ravel()])).argmax(1)


def transposed_map(classifier, xx, yy):
    return decision_map(classifier, xx, yy).T


def column_major_points(classifier, xx, yy):
    points = np.column_stack([xx.ravel(order="F"), yy.ravel(order="F")])
    return classifier.predict_proba(points).argmax(1).reshape(xx.shape)


def reshaped_the_other_way(classifier, xx, yy):
    points = np.column_stack([xx.ravel(), yy.ravel()])
    return classifier.predict_proba(points).argmax(1).reshape(xx.shape[::-1]).T


MISTAKES = [
    (check_add_noise, abar_instead_of_sqrt, "you used abar instead of sqrt(abar) to scale x0"),
    (check_add_noise, one_minus_abar_noise, "you used 1 - abar instead of sqrt(1 - abar) to scale the noise"),
    (check_add_noise, variances_as_scales, "you scaled by the variances abar and 1 - abar"),
    (check_add_noise, swapped_scales, "the two scales are swapped"),
    (check_add_noise, one_minus_sqrt, "the noise's scale is sqrt(1 - abar_t), not 1 - sqrt(abar_t)"),
    (check_add_noise, no_noise, "you left out the noise"),
    (check_add_noise, not_broadcast, "must match the size of tensor b (2) at non-singleton dimension 1 (hint: "),
    (check_denoising_error, mean_over_coordinates, "you averaged over the coordinates"),
    (check_denoising_error, norm_not_squared, "you took the norm: the error is the squared norm"),
    (check_denoising_error, l1_error, "you summed absolute values (the l1 loss)"),
    (check_denoising_error, compared_with_x0, "you compared the prediction with x0"),
    (check_denoising_error, clean_input, "the denoiser must see the noisy x_t"),
    (check_denoising_error, x_t_with_abar, "your x_t is wrong: x0 is scaled by sqrt(abar_t), not abar_t"),
    (check_denoising_error, class_zero, "you scored class 0, not the class asked for (label = 2)"),
    (
        check_denoising_error,
        per_coordinate,
        "you returned the squared error of each coordinate: sum them, one error per point "
        "(got (5, 2) = [points, coordinates], expected (5,) = [points])",
    ),
    (check_denoising_error, mean_over_points, "you returned one number: give one error per point"),
    (check_denoising_error, float64_x_t, "must have the same dtype, but got Double and Float (hint: the denoiser"),
    (check_denoising_error, int_label, "must be Tensor, not int (hint: the denoiser takes one label per row"),
    (check_posterior, sign_flipped, "the sign of the softmax is flipped: a lower error must mean a likelier class"),
    (check_posterior, over_points, "you normalised over the points (dim 0)"),
    (check_posterior, log_probabilities, "you returned log-probabilities"),
    (check_posterior, unnormalised, "you did not normalise"),
    (check_posterior, times_temperature, "you multiplied by the temperature: divide by it"),
    (check_posterior, no_temperature, "you left out the temperature"),
    (
        check_class_errors,
        own_noise_per_class,
        "each class drew its own eps: the classes must share the same (t, eps) so their errors differ only by the "
        "class",
    ),
    (check_class_errors, own_shared_noise, "two calls on the same plan give different errors"),
    (
        check_class_errors,
        mean_over_classes,
        "you averaged over the wrong axis (classes instead of trials) "
        "(got (5, 8) = [points, trials], expected (5, 3) = [points, classes])",
    ),
    (check_class_errors, no_mean, "you kept every trial: take the mean over the trials"),
    (check_class_errors, transposed_errors, "your errors are transposed"),
    (check_class_errors, sum_over_trials, "you summed over the trials: take their mean"),
    (check_class_errors, errors_mean_over_coordinates, "you averaged over the coordinates"),
    (check_decision_map, swapped_x_and_y, "you swapped x and y"),
    (check_decision_map, argmin_of_probabilities, "the argmin of p(c | x) is the least likely class"),
    (check_decision_map, probabilities, "you returned the probabilities: the decision map is their argmax"),
    (check_decision_map, flat, "your map is flat: reshape it"),
    (
        check_decision_map,
        transposed_map,
        "your map is transposed: meshgrid's arrays are (ny, nx), rows are y (got (7, 5) = [nx, ny], expected (5, 7) = [ny, nx])",
    ),
    (check_decision_map, column_major_points, "your points and your map are in different orders: ravel xx and yy"),
    (check_decision_map, reshaped_the_other_way, "your points and your map are in different orders: reshape back"),
]


@pytest.mark.parametrize("checker, mistake, message", MISTAKES, ids=[mistake.__name__ for _, mistake, _ in MISTAKES])
def test_each_known_mistake_is_named(checker, mistake, message):
    result = checker(mistake)
    assert not result.passed
    assert message in result.message, result.message
    assert str(result).startswith(f"✗ {result.exercise}: ")


# --- what is not an answer ------------------------------------------------------------------------


def not_written(*args):
    raise NotImplementedError


@pytest.mark.parametrize("checker", [check_add_noise, check_denoising_error, check_posterior, check_class_errors])
def test_a_skeleton_is_not_written_yet(checker):
    result = checker(not_written)
    assert not result.passed
    assert result.message == "not written yet: replace the `raise NotImplementedError` in not_written"


def test_an_exception_is_one_line_and_the_check_goes_on():
    def broken(errors, temperature=1.0):
        raise ValueError("something went wrong\nand a second line")

    result = check_posterior(broken)
    assert not result.passed and result.message == "your function raised ValueError: something went wrong"
    result = check_posterior(lambda errors: posterior(errors))  # no temperature argument: the second call raises
    assert "your function raised TypeError" in result.message


def test_a_wrong_shape_names_both_shapes():
    result = check_class_errors(lambda denoiser, x, plan: class_errors(denoiser, x, plan)[:, :2])
    assert result.message == "wrong shape: got (5, 2) = [points, coordinates], expected (5, 3) = [points, classes]"
    result = check_add_noise(lambda x0, noise, t, abar: add_noise(x0, noise, t, abar)[:3])
    assert result.message == "wrong shape: got (3, 2) = [3, coordinates], expected (6, 2) = [points, coordinates]"


def test_wrong_numbers_without_a_known_mistake_say_where():
    result = check_posterior(lambda errors, temperature=1.0: posterior(errors, temperature).flip(1))
    assert result.message.startswith("not the library's answer at temperature 1: the largest difference is ")
    result = check_add_noise(lambda x0, noise, t, abar: add_noise(x0, noise, t, abar) * float("nan"))
    assert result.message == "your answer has nan or inf values"


def test_none_and_what_holds_no_numbers_are_reported():
    assert check_add_noise(lambda *args: None).message == "<lambda> returned None: did you forget the `return`?"
    assert check_posterior(lambda errors, temperature=1: "p").message == "<lambda> returned a str, not a torch tensor"


def test_numpy_where_a_tensor_is_expected_passes_with_a_note():
    result = check_posterior(lambda errors, temperature=1.0: posterior(errors, temperature).numpy())
    assert result.passed
    assert result.message.endswith(
        "(It returns a numpy array where the library returns a torch tensor; the values are right.)"
    )
    result = check_decision_map(lambda *args: torch.as_tensor(decision_map(*args)))
    assert result.passed and "It returns a torch tensor where the library returns a numpy array" in result.message
    wrong = check_posterior(lambda errors, temperature=1.0: sign_flipped(errors, temperature).numpy())
    assert wrong.message == "the sign of the softmax is flipped: a lower error must mean a likelier class"


@pytest.mark.parametrize("given", [3, None, torch.ones(2), "posterior"])
def test_what_is_not_a_function_is_a_type_error(given):
    with pytest.raises(
        TypeError, match=r"check_posterior checks a function: pass it by name, check_posterior\(posterior\)"
    ):
        check_posterior(given)


def test_a_result_shows_itself_in_a_notebook():
    good, bad = check_posterior(posterior), check_posterior(sign_flipped)
    assert repr(good) == str(good) and good.passed and not bad.passed
    assert "#2e7d32" in good._repr_html_() and "#c62828" in bad._repr_html_()
    assert "<b" in bad._repr_html_() and "a lower error must mean a likelier class" in bad._repr_html_()
    assert check_posterior(lambda errors, temperature=1.0: "<script>").message.startswith("<lambda> returned a str")
    assert "&lt;lambda&gt;" in check_posterior(lambda errors, temperature=1.0: None)._repr_html_()


def test_the_checks_change_no_input_and_no_global_state():
    def in_place(x0, noise, t, alphas_cumprod):  # a student who overwrites an input
        x0 *= 0
        return add_noise(x0, noise, t, alphas_cumprod)

    torch.manual_seed(123)
    before = torch.get_rng_state()
    assert not check_add_noise(in_place).passed
    assert check_add_noise(add_noise).passed  # the checks' inputs were copies
    check_class_errors(class_errors)
    assert torch.equal(torch.get_rng_state(), before)


def test_the_stand_in_classifier_decides_every_class_on_the_grid():
    xx, yy = np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-1.5, 1.5, 5))
    decided = decision_map(NearestCentres(), xx, yy)
    assert set(decided.ravel().tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(NearestCentres().predict(np.c_[xx.ravel(), yy.ravel()]), decided.ravel())


def test_the_module_docstring_example_runs():
    result = doctest.testmod(toyclf.lecture.exercises, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted >= 2 and result.failed == 0
