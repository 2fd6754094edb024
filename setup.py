"""Build-time mapping of the repository's top-level folders into the wheel.

templates/, static/ and migrations/ stay at the top of the repository; the wheel
carries them as dashboard/shipped/<name>, where dashboard/resources.py looks first.
Everything else about the package is in pyproject.toml.
"""

from setuptools import find_packages, setup

SHIPPED = ("templates", "static", "migrations")

setup(
    packages=find_packages(include=["dashboard", "dashboard.*"]) + [f"dashboard.shipped.{name}" for name in SHIPPED],
    package_dir={f"dashboard.shipped.{name}": name for name in SHIPPED},
    package_data={
        "dashboard": ["data/*.csv", "data/*.txt", "data/*.md", "translations/*/LC_MESSAGES/*.mo"],
        **{f"dashboard.shipped.{name}": ["**/*"] for name in SHIPPED},
    },
    exclude_package_data={f"dashboard.shipped.{name}": ["**/__pycache__/*", "**/*.pyc"] for name in SHIPPED},
)
