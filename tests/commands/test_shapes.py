"""python -m toyclf.shapes at smoke size: it writes a pipeline that loads as a hub Stable
Diffusion does and a CLIP, the same seed gives the same weights, a run stopped part way leaves
the old models, and bad folders are refused before any training."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("diffusers")

from PIL import Image

from toyclf.plan import make_plan
from toyclf.pretrained import load_denoiser
from toyclf.pretrained.shapes import PIPELINE_FOLDER, RECORD_FILE, load_shapes_clip
from toyclf.pretrained.shapes_evaluation import diffusion_scores, pixels
from toyclf.scenes import make_scenes
from toyclf.shapes import main


def tiny_run(out, figures, *extra):
    return main(["--tiny", "--quiet", "--out", str(out), "--figures", str(figures), *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    assert tiny_run(root / "model", root / "figures") == 0
    return root


def test_the_tiny_run_writes_models_that_load_and_classify(trained):
    denoiser = load_denoiser(trained / "model" / PIPELINE_FOLDER, prompts=["a red circle", "a blue square"])
    assert denoiser.image_size == 32 and denoiser.latent_shape == (4, 8, 8)
    images, _ = make_scenes(2, random_state=0)
    scores, trials = diffusion_scores(denoiser, pixels(denoiser, list(images)), make_plan(denoiser, 4))
    assert scores.shape == (2, 2) and (trials == 4).all()
    clip, tokenizer = load_shapes_clip(trained / "model")
    assert clip.config.vision_config.image_size == 32 and len(tokenizer("a red circle").input_ids) == 5
    record = json.loads((trained / "model" / RECORD_FILE).read_text())
    assert record["command"].startswith("python -m toyclf.shapes --tiny") and record["settings"]["steps"] == 3
    with Image.open(trained / "figures" / "shapes_samples.png") as grid:
        assert grid.size == (1280, 720)


def test_the_same_seed_gives_the_same_weights(trained, tmp_path):
    assert tiny_run(tmp_path / "again", tmp_path / "figures") == 0
    for part in ("unet", "vae", "text_encoder"):
        first = next((trained / "model" / PIPELINE_FOLDER / part).glob("*.safetensors")).read_bytes()
        assert next((tmp_path / "again" / PIPELINE_FOLDER / part).glob("*.safetensors")).read_bytes() == first, part


def test_a_run_stopped_while_writing_leaves_the_old_models(trained, tmp_path, monkeypatch, capsys):
    import shutil

    from transformers import CLIPModel

    out = tmp_path / "model"
    shutil.copytree(trained / "model", out)  # an earlier run's output, to be replaced
    before = (out / RECORD_FILE).read_text()
    writes = CLIPModel.save_pretrained

    def stopped(self, folder, *args, **kwargs):
        writes(self, folder, *args, **kwargs)  # half the new folder is written...
        raise KeyboardInterrupt  # ...when Ctrl-C comes

    monkeypatch.setattr(CLIPModel, "save_pretrained", stopped)
    assert tiny_run(out, tmp_path / "figures", "--seed", "1") == 130
    assert "interrupted" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left
    assert (out / RECORD_FILE).read_text() == before  # the old models, whole
    monkeypatch.undo()
    assert tiny_run(out, tmp_path / "figures", "--seed", "1") == 0  # run again: replaced
    assert json.loads((out / RECORD_FILE).read_text())["settings"]["seed"] == 1


def test_a_folder_that_is_not_an_output_is_never_replaced(tmp_path, capsys):
    mine = tmp_path / "my_documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(SystemExit) as exit_:
        tiny_run(mine, tmp_path / "figures")
    assert exit_.value.code == 2 and "is a folder that is not an earlier" in capsys.readouterr().err
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_tiny_keeps_explicit_flags_and_samples_only_redraws(trained, tmp_path, capsys):
    assert tiny_run(tmp_path / "model", tmp_path / "figures", "--steps", "4") == 0
    assert json.loads((tmp_path / "model" / RECORD_FILE).read_text())["settings"]["steps"] == 4
    assert main(["--samples-only", "--out", str(trained / "model"), "--figures", str(tmp_path / "redrawn")]) == 0
    with Image.open(tmp_path / "redrawn" / "shapes_samples.png") as grid:
        assert grid.size == (1280, 720)
    assert main(["--samples-only", "--out", str(tmp_path / "nothing")]) == 2
    assert "no tiny Stable Diffusion at" in capsys.readouterr().err


def test_a_folder_that_cannot_be_written_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit) as exit_:
        tiny_run(tmp_path / "a_file" / "model", tmp_path / "figures")
    assert exit_.value.code == 2 and "a_file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--steps", "0"])
