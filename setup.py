"""Build hook: the wheel carries the bundled corpus and the web files inside the package.

``corpus/`` and ``web/`` stay at the top of the repository (where their owners edit them); a built
package holds copies as ``assistant/_corpus`` and ``assistant/_web``, which ``assistant.config.bundled``
finds first. Everything else about the package is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = {"corpus": "_corpus", "web": "_web"}  # top-level directory -> its name inside the package
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "node_modules")


class BuildWithBundledFiles(build_py):
    """build_py, then the bundled directories copied into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads corpus/ and web/ in place
        for source, name in BUNDLED.items():
            target = Path(self.build_lib) / "assistant" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(ROOT / source, target, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithBundledFiles})
