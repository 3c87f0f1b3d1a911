"""notebook.setup() in a live IPython shell: an edit saved in a module reaches the next cell."""

import os
import sys
import textwrap

from IPython.core.interactiveshell import InteractiveShell


def test_setup_turns_on_autoreload_so_an_edited_module_is_picked_up(tmp_path, monkeypatch):
    module = tmp_path / "edited_exercise.py"
    module.write_text("def answer():\n    raise NotImplementedError('exercise 9.9: answer')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    shell = InteractiveShell.instance()
    try:
        assert shell.run_cell("from scratchlib.course import notebook; notebook.setup()").success
        assert shell.run_cell("import edited_exercise").success
        assert not shell.run_cell("edited_exercise.answer()").success  # the stub raises
        # the student saves the exercise; a newer modification time, as an editor would leave
        module.write_text(
            textwrap.dedent("""\
            def answer():
                return 42
        """)
        )
        stat = module.stat()
        os.utime(module, (stat.st_atime, stat.st_mtime + 5))
        result = shell.run_cell("value = edited_exercise.answer()")
        assert result.success, result.error_in_exec
        assert shell.user_ns["value"] == 42
        # a second setup() (a re-run of the first cell) keeps it on
        assert shell.run_cell("notebook.setup()").success
        assert shell.run_cell("value = edited_exercise.answer() + 1").success
        assert shell.user_ns["value"] == 43
    finally:
        InteractiveShell.clear_instance()
        sys.modules.pop("edited_exercise", None)
