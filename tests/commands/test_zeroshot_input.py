"""What python -m toyclf.zeroshot takes from its command line: where class names end and images
begin (a typo is never a class, a folder never silently one), links that lead nowhere listed as
skipped, and model folders that do not load named in one line, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

from toyclf import zeroshot

FAST = ["--trials", "4", "--quiet"]


def refuse_to_load(*args, **kwargs):
    raise AssertionError("a model was loaded")


@pytest.fixture
def image(tiny_images) -> str:
    return str(next(Path(tiny_images).glob("cat/*.png")))


@pytest.mark.parametrize(
    "names, why",
    [
        (["cat", "dog", "photos/typo.png"], "'photos/typo.png' has an image file's suffix"),
        (["cat", "dog", "{image}"], "'{image}' has an image file's suffix"),
        (["cat", "dog", "{folder}/"], "'{folder}/' ends with a slash"),
        (["cat", "dog", "{folder}"], "'{folder}' is an existing folder"),
        (["cat", "{notes}"], "'{notes}' is an existing file"),
    ],
)
def test_a_name_that_could_be_an_image_path_is_refused_before_loading(
    names, why, image, tiny_images, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(zeroshot, "load_denoiser", refuse_to_load)
    (tmp_path / "notes").write_text("a file")
    values = {"image": image, "folder": str(Path(tiny_images) / "dog"), "notes": str(tmp_path / "notes")}
    names = [n.format(**values) for n in names]
    with pytest.raises(SystemExit) as exit_:
        zeroshot.main([image, "--classes", *names, *FAST])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"--classes: {why.format(**values)}: is it a name or an image?" in err
    assert "put every image after -- at the end (--classes A B ... -- IMAGES)" in err


def test_a_prompt_that_is_an_image_path_is_refused(image, monkeypatch, capsys):
    monkeypatch.setattr(zeroshot, "load_denoiser", refuse_to_load)
    with pytest.raises(SystemExit):
        zeroshot.main(["--prompts", "a photo of a cat.", "a photo of a dog.", image, *FAST])
    assert f"--prompts: {image!r} has an image file's suffix" in capsys.readouterr().err


def test_class_names_that_are_folders_here_are_names_after_a_double_dash(tiny_models, tiny_images, monkeypatch, capsys):
    monkeypatch.chdir(tiny_images)  # folders named cat/ and dog/ are right here
    files = sorted(str(p) for p in Path(tiny_images).glob("*/*.png"))[:2]
    with pytest.raises(SystemExit):  # ambiguous without --
        zeroshot.main(["--model", tiny_models["sd"], *files, "--classes", "cat", "dog", *FAST])
    assert "'cat' is an existing folder" in capsys.readouterr().err
    assert zeroshot.main(["--model", tiny_models["sd"], *FAST, "--classes", "cat", "dog", "--", *files]) == 0
    assert zeroshot.main(["--model", tiny_models["sd"], *FAST, *files, "--classes", "bird", "fish"]) == 0  # not paths


def test_a_long_prompt_is_a_prompt(tiny_models, image, capsys):
    prompt = "a photo of a cat, " + "sitting on a red sofa in the afternoon sun, " * 8  # longer than a file name may be
    args = [image, "--classes", "cat", "dog", "--prompts", prompt, "a photo of a dog", *FAST]
    assert zeroshot.main(["--model", tiny_models["sd"], *args]) == 2  # read as a prompt, not as a file name...
    err = capsys.readouterr().err
    assert f"the prompt {prompt!r} is" in err and "the text encoder takes at most 77" in err  # ...and too long
    short = "a photo of a cat on a red sofa"
    args = [image, "--classes", "cat", "dog", "--prompts", short, "a photo of a dog", *FAST]
    assert zeroshot.main(["--model", tiny_models["sd"], *args]) == 0


def test_no_images_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(zeroshot, "load_denoiser", refuse_to_load)
    with pytest.raises(SystemExit):
        zeroshot.main(["--classes", "cat", "dog", *FAST])
    assert "no images given: name image files or folders before --classes, or after --" in capsys.readouterr().err


def test_links_that_lead_nowhere_are_listed_as_skipped(tiny_models, tiny_images, tmp_path, capsys):
    folder = tmp_path / "pictures"
    shutil.copytree(Path(tiny_images) / "cat", folder)
    os.symlink(tmp_path / "gone.png", folder / "dangling.png")
    os.symlink(folder / "loop.png", folder / "loop.png")
    assert zeroshot.main(["--model", tiny_models["sd"], str(folder), "--classes", "cat", "dog", *FAST]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 of 5 files that are not readable images:" in err
    assert f"  {folder / 'dangling.png'}: " in err and f"  {folder / 'loop.png'}: " in err


def edit_index(folder: Path, **changes) -> None:
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, **changes}))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: edit_index(d, _class_name="FooPipeline"), "names the pipeline class 'FooPipeline', which diffusers"),
        (lambda d: shutil.rmtree(d / "tokenizer"), "has no tokenizer/ folder, which its model_index.json lists"),
        (lambda d: shutil.rmtree(d / "unet"), "has no unet/ folder, which its model_index.json lists"),
        (lambda d: edit_index(d, unet=["diffusers", "FooModel"]), "could not load the diffusers pipeline .*FooModel"),
        (lambda d: (d / "unet" / "config.json").write_text("{not json"), "could not load the diffusers pipeline"),
    ],
)
def test_a_model_folder_that_does_not_load_is_one_line(damage, message, tiny_models, image, tmp_path, capsys):
    model = shutil.copytree(tiny_models["sd"], tmp_path / "model")
    damage(model)
    assert zeroshot.main(["--model", str(model), image, "--classes", "cat", "dog", *FAST]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and __import__("re").search(f"error: .*{message}", err)
