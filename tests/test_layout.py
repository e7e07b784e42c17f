"""The package's layout: rooms by reader (the core, the pretrained stack, the lecture, the commands),
layers that import one way inside them, no import cycles, short files. How the imports are read
is in ``tests/import_graph.py``; the rooms are the table below."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from import_graph import (
    MODULES,
    PACKAGE,
    code_lines,
    describe,
    find_cycles,
    import_graph,
    imports_of,
    third_party_imports,
)

MAX_LINES = 300

# The package's rooms, one for each reader, and the layers inside each (bottom first). A module may
# import modules of a room its own room may use (ROOM_USES), and inside its own room only its own
# layer or a lower one. The core is the paper; the pretrained stack and the lecture both stand on it
# and never on each other; the commands (python -m toyclf.NAME) use all three.
ROOMS: dict[str, dict[str, int]] = {
    "core": {
        # 0 helpers: nothing here knows about diffusion
        "toyclf.utils": 0,
        "toyclf.utils.validation": 0,
        "toyclf.utils.device": 0,
        "toyclf.utils.files": 0,
        "toyclf.utils.checkpoint": 0,
        "toyclf.utils.results_file": 0,
        "toyclf.utils.threads": 0,
        # 1 data: the data sets, the noising paths and what a network predicts on them, feature scaling
        "toyclf.data": 1,
        "toyclf.schedule": 1,
        "toyclf.scaling": 1,
        "toyclf.prediction": 1,
        "toyclf.scenes": 1,
        "toyclf.scene_tests": 1,
        # 2 models: the shared (t, eps) plan and the toy's denoisers
        "toyclf.plan": 2,
        "toyclf.denoisers": 2,
        "toyclf.denoisers.base": 2,
        "toyclf.denoisers.mlp": 2,
        "toyclf.denoisers.oracle": 2,
        # 3 method: the estimator (Algorithm 1), pruning (Algorithm 2), calibration, training, sampling
        "toyclf.weighting": 3,
        "toyclf.estimator": 3,
        "toyclf.pruning": 3,
        "toyclf.calibration": 3,
        "toyclf.training": 3,
        "toyclf.sampling": 3,
        "toyclf.likelihood": 3,
        # 4 classifier: the scikit-learn estimator, its files, the paper's settings, maps over a grid
        "toyclf.saving": 4,
        "toyclf.classifier": 4,
        "toyclf.mapping": 4,
        "toyclf.paper": 4,
    },
    "pretrained": {
        # 0 images in, fast settings
        "toyclf.pretrained.images": 0,
        "toyclf.pretrained.speed": 0,
        # 1 what every latent backend shares; 2 the backends
        "toyclf.pretrained.latent": 1,
        "toyclf.pretrained.stable_diffusion": 2,
        "toyclf.pretrained.stable_diffusion_xl": 2,
        "toyclf.pretrained.stable_diffusion_3": 2,
        "toyclf.pretrained.dit": 2,
        # 3 loading a backend from the hub or a folder
        "toyclf.pretrained.loading": 3,
        "toyclf.pretrained": 3,
        # 4 random pipelines for the tests; classifying a stream of images and its rows
        "toyclf.pretrained.random_pipelines": 4,
        "toyclf.pretrained.tiny": 4,
        "toyclf.pretrained.image_classification": 4,
        "toyclf.pretrained.image_results": 4,
        # 5 a zero-shot run: its processes and their share of the images, its steps from the images to the summary
        "toyclf.pretrained.processes": 5,
        "toyclf.pretrained.zero_shot_run": 5,
        # the tiny Stable Diffusion and CLIP of the world of shapes: 4 their parts and the shipped
        # files; 5 training them; 6 the CLIP and its training; 7 scoring scenes with both
        "toyclf.pretrained.shapes_model": 4,
        "toyclf.pretrained.shapes": 4,
        "toyclf.pretrained.shapes_training": 5,
        "toyclf.pretrained.tiny_clip": 6,
        "toyclf.pretrained.shapes_evaluation": 7,
    },
    "lecture": {
        # 0 how to read a figure; baselines, robustness, and the per-trial losses the ablations share
        "toyclf.lecture": 0,
        "toyclf.lecture.plots.keys": 0,
        "toyclf.lecture.experiments.comparison": 0,
        "toyclf.lecture.experiments.robustness": 0,
        "toyclf.lecture.experiments.per_trial": 0,
        "toyclf.lecture.checking": 0,  # comparing a student's function with the library's, naming the mistake
        # 1 maps and digit figures; the estimator's ablations and the suite
        "toyclf.lecture.plots.maps": 1,
        "toyclf.lecture.plots.digits": 1,
        "toyclf.lecture.plots.shapes": 1,
        "toyclf.lecture.digits": 1,
        "toyclf.lecture.experiments.trials": 1,
        "toyclf.lecture.experiments.noise_sharing": 1,
        "toyclf.lecture.experiments.loss_and_weighting": 1,
        "toyclf.lecture.experiments.exact_posterior": 1,
        "toyclf.lecture.experiments.calibration_settings": 1,
        "toyclf.lecture.experiments.pruning_maps": 1,
        "toyclf.lecture.experiments.evidence": 1,
        "toyclf.lecture.plots.evidence": 1,
        "toyclf.lecture.plots.strips": 1,
        "toyclf.lecture.experiments.suite": 1,
        "toyclf.lecture.experiments": 1,
        "toyclf.lecture.exercises": 1,  # the exercises of notebook 06, each a checker
        # 2 figures of the experiments, animations
        "toyclf.lecture.plots.ablations": 2,
        "toyclf.lecture.plots.animations": 2,
        "toyclf.lecture.plots": 2,
    },
    "commands": {
        # 0 what the command lines share; 1 the commands, python -m toyclf.NAME
        "toyclf.cli": 0,
        "toyclf.spirals": 1,
        "toyclf.digits": 1,
        "toyclf.zeroshot": 1,
        "toyclf.inside": 1,
        "toyclf.animate": 1,
        "toyclf.shapes": 1,
    },
    "package": {"toyclf": 0},  # the top-level package re-exports the core
}
ROOM_USES: dict[str, set[str]] = {
    "core": {"core"},
    "pretrained": {"core", "pretrained"},
    "lecture": {"core", "lecture"},
    "commands": {"core", "pretrained", "lecture", "commands"},
    "package": {"core", "package"},
}
ROOM_OF = {name: room for room, modules in ROOMS.items() for name in modules}
LAYER_OF = {name: layer for modules in ROOMS.values() for name, layer in modules.items()}
PRETRAINED_LIBRARIES = ("diffusers", "transformers", "accelerate")  # imported only inside toyclf.pretrained


def test_every_module_has_a_room_and_a_layer():
    missing = sorted(set(MODULES) - set(ROOM_OF))
    assert not missing, (
        "modules missing from the room table in tests/test_layout.py (place each new module in a room "
        "and a layer): " + ", ".join(missing)
    )
    gone = sorted(set(ROOM_OF) - set(MODULES))
    assert not gone, "the room table names modules that do not exist: " + ", ".join(gone)


def test_the_rooms_are_where_the_table_says():
    """The core lies at the top of toyclf/ (and in denoisers/ and utils/), the pretrained stack in
    toyclf/pretrained/, the lecture in toyclf/lecture/; the commands are python -m toyclf.NAME."""
    folders = {"pretrained": "toyclf.pretrained", "lecture": "toyclf.lecture"}
    misplaced = [
        f"{name} ({room})"
        for name, room in ROOM_OF.items()
        if (room in folders) != any(name == f or name.startswith(f + ".") for f in folders.values())
        or (room in folders and not (name + ".").startswith(folders[room] + "."))
        or (room == "commands" and name.count(".") != 1)
    ]
    assert not misplaced, "modules outside their room's folder: " + ", ".join(misplaced)


def test_no_import_cycles():
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n  " + "\n  ".join(describe(cycle, graph) for cycle in cycles)


def test_imports_stay_in_their_rooms_and_go_down_the_layers():
    graph = import_graph()
    wrong = []
    for name, edges in sorted(graph.items()):
        room = ROOM_OF.get(name)
        for target, where in sorted(edges.items()):
            other = ROOM_OF.get(target)
            if room is None or other is None:
                continue  # reported by test_every_module_has_a_room_and_a_layer
            if other not in ROOM_USES[room]:
                wrong.append(f"{name} (room {room}) imports {target} (room {other}) at {where}")
            elif other == room and LAYER_OF[target] > LAYER_OF[name]:
                wrong.append(
                    f"{name} (layer {LAYER_OF[name]} of {room}) imports {target} (layer {LAYER_OF[target]}) at {where}"
                )
    assert not wrong, "imports out of a room or up its layers:\n  " + "\n  ".join(wrong)


def test_only_the_pretrained_stack_imports_diffusers_and_transformers():
    offenders = [
        f"{name} imports {package} at line {line}"
        for name in sorted(MODULES)
        if ROOM_OF.get(name) != "pretrained"
        for package, line in third_party_imports(name)
        if package in PRETRAINED_LIBRARIES
    ]
    assert not offenders, "outside toyclf.pretrained: " + ", ".join(offenders)
    inside = {
        package for name in MODULES if ROOM_OF.get(name) == "pretrained" for package, _ in third_party_imports(name)
    }
    assert {"diffusers", "transformers"} <= inside  # the check sees the imports it is about


def test_the_toy_runs_without_the_pretrained_libraries():
    """Every module outside the pretrained stack imports with diffusers, transformers and accelerate
    missing, as after the README's first command (which installs none of them)."""
    names = sorted(name for name in MODULES if ROOM_OF.get(name) != "pretrained")
    script = (
        "import sys\n"
        f"for package in {PRETRAINED_LIBRARIES!r}: sys.modules[package] = None\n"
        "import importlib\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "assert not any(sys.modules.get(p) for p in " + repr(PRETRAINED_LIBRARIES) + ")\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr[-2000:]


def test_no_module_imports_the_top_level_package():
    offenders = [
        f"{name} ({MODULES[name].relative_to(PACKAGE.parent)}:{line})"
        for name in sorted(MODULES)
        if name != "toyclf"
        for _, line, top_level in imports_of(name)
        if top_level
    ]
    assert not offenders, (
        "`from toyclf import ...` or `import toyclf` inside the package (import from the module "
        "that defines the name): " + ", ".join(offenders)
    )


def test_files_are_short():
    long_files = {}
    for path in MODULES.values():
        n_lines = code_lines(path.read_text(encoding="utf-8"))
        if n_lines > MAX_LINES:
            long_files[str(path.relative_to(PACKAGE.parent))] = n_lines
    assert not long_files, (
        f"files of more than {MAX_LINES} lines of code (a file that long holds two ideas): "
        + ", ".join(f"{path} ({n} lines)" for path, n in sorted(long_files.items()))
    )


def test_code_lines_leave_out_docstrings_comments_and_blank_lines():
    source = '''
        """Module docstring,
        on two lines."""

        # a comment
        def f(x):
            """One line."""
            return x  # counted


        class A:
            """Class docstring."""

            y = 1
    '''
    assert code_lines(textwrap.dedent(source)) == 4  # def f, return, class A, y = 1


def test_the_layout_check_sees_imports():
    """The graph is not trivially empty: the classifier imports the estimator, and an import
    inside a function (toyclf/pretrained/loading.py loads the backends lazily) is seen."""
    graph = import_graph()
    assert "toyclf.estimator" in graph["toyclf.classifier"]
    assert "toyclf.pretrained.stable_diffusion" in graph["toyclf.pretrained.loading"]


def test_the_cycle_finder_reports_a_cycle():
    graph = {"a": {"b": "a.py:1"}, "b": {"c": "b.py:2"}, "c": {"a": "c.py:3", "d": "c.py:4"}, "d": {}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b": ""}, "b": {}}) == []
