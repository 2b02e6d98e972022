"""Per ecosystem: the manifests a dependency step reads, the cache folders that keep dependencies across
builds, what an install writes into the project folder, and the dependency-only step to add when a build
resolves dependencies itself."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class Ecosystem:
    name: str
    manifests: tuple[str, ...]  # file-name globs, or path globs (with "/") relative to the install folder
    cache_dirs: tuple[str, ...]  # a cache mount whose target ends with one of these keeps the dependencies
    outputs: tuple[str, ...] = ()  # folders the install fills inside the project folder
    dep_step: str = ""  # the dependency-only step, as a Dockerfile snippet ({copy} = COPY of the manifests)
    after: str = ""  # what the build then runs instead, after the sources
    vendored: tuple[str, ...] = ()  # files (relative to the build folder) that say the sources carry the deps


ECOSYSTEMS = {e.name: e for e in (
    Ecosystem("pip", (), ("/.cache/pip",),
              dep_step="{copy}\nRUN python -c \"import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', "
                       "'rb'))['project']['dependencies']))\" > /tmp/requirements.txt \\\n"
                       " && pip install --no-cache-dir -r /tmp/requirements.txt",
              after="pip install --no-deps ."),
    Ecosystem("poetry", ("pyproject.toml", "poetry.lock", "poetry.toml"), ("/.cache/pypoetry",), (".venv",),
              dep_step="{copy}\nRUN poetry install --no-root --no-interaction", after="poetry install --only-root"),
    Ecosystem("uv", ("pyproject.toml", "uv.lock", ".python-version"), ("/.cache/uv",), (".venv",),
              dep_step="RUN --mount=type=cache,target=/root/.cache/uv \\\n"
                       "    --mount=type=bind,source=uv.lock,target=uv.lock \\\n"
                       "    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\\n"
                       "    uv sync --locked --no-install-project",
              after="uv sync --locked"),
    Ecosystem("pipenv", ("Pipfile", "Pipfile.lock"), ("/.cache/pipenv",), (".venv",)),
    Ecosystem("npm", ("package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"), ("/.npm",),
              ("node_modules",)),
    Ecosystem("yarn", ("package.json", "yarn.lock", ".yarnrc", ".npmrc"), ("/.cache/yarn", "/yarn", "/.yarn"),
              ("node_modules",)),
    Ecosystem("pnpm", ("package.json", "pnpm-lock.yaml", ".npmrc", "pnpm-workspace.yaml", "pnpm-workspace.yml",
                       ".pnpmfile.cjs"), ("/pnpm/store", "/.pnpm-store", "/.local/share/pnpm"), ("node_modules",)),
    Ecosystem("go", ("go.mod", "go.sum", "go.work", "go.work.sum"), ("/go/pkg/mod", "/pkg/mod"),
              dep_step="{copy}\nRUN go mod download", vendored=("vendor/modules.txt",)),
    Ecosystem("maven", ("pom.xml", "mvnw", ".mvn/*", ".mvn/*/*"), ("/.m2", "/.m2/repository"),
              dep_step="{copy}\nRUN {mvn} -B dependency:go-offline", after="{mvn} -B -o package"),
    Ecosystem("gradle", ("*.gradle", "*.gradle.kts", "gradle.properties", "gradlew", "gradle/*", "gradle/*/*"),
              ("/.gradle", "/.gradle/caches"),
              dep_step="{copy}\nRUN {gradle} dependencies --no-daemon"),
    Ecosystem("cargo", ("Cargo.toml", "Cargo.lock", ".cargo/config.toml", "rust-toolchain", "rust-toolchain.toml"),
              ("/cargo/registry", "/.cargo/registry", "/cargo/git", "/target"),
              dep_step="{copy}\nRUN mkdir src && echo 'fn main() {{}}' > src/main.rs \\\n"
                       " && cargo build --release && rm -rf src",
              after="touch src/main.rs && cargo build --release (or use cargo-chef: cargo chef prepare, then cargo "
                    "chef cook)", vendored=("vendor/.cargo-checksum.json",)),
    Ecosystem("dotnet", ("*.csproj", "*.fsproj", "*.vbproj", "*.sln", "NuGet.config", "nuget.config",
                         "Directory.Build.props", "Directory.Packages.props", "global.json", "packages.lock.json"),
              ("/.nuget/packages",), ("obj", "bin"),
              dep_step="{copy}\nRUN dotnet restore", after="dotnet publish --no-restore ..."),
    Ecosystem("bundler", ("Gemfile", "Gemfile.lock", ".ruby-version"), ("/bundle", "/.bundle", "/gems"),
              ("vendor/bundle", ".bundle")),
    Ecosystem("composer", ("composer.json", "composer.lock", "auth.json"), ("/.composer/cache", "/.cache/composer"),
              ("vendor",),
              dep_step="{copy}\nRUN composer install --no-dev --no-scripts --no-autoloader --no-interaction",
              after="composer dump-autoload --optimize"),
    Ecosystem("mix", ("mix.exs", "mix.lock"), ("/.hex", "/.mix"), ("deps",)),
)}

# Files that define a build but are no source of the program: a COPY of only these is a manifest COPY.
_BUILD_FILES = ("*requirements*.txt", "*constraints*.txt", "requirements/*.txt", ".yarnrc.yml", ".yarn/*",
                ".yarn/*/*", ".nvmrc", ".node-version", ".tool-versions", "Dockerfile*", "*.Dockerfile", "*.dockerfile",
                "Containerfile*", ".dockerignore")


def matches(patterns: tuple[str, ...], rel: str) -> bool:
    """Whether the context path `rel` (relative to the install folder) matches a manifest pattern."""
    name = posixpath.basename(rel)
    return any(fnmatchcase(rel, p) if "/" in p else fnmatchcase(name, p) for p in patterns)


_ALL = tuple(p for e in ECOSYSTEMS.values() for p in e.manifests) + _BUILD_FILES


def is_build_file(rel: str) -> bool:
    """A manifest or build-definition file of any ecosystem (by its path; tail paths match `gradle/*`)."""
    parts = rel.split("/")
    return any(matches(_ALL, "/".join(parts[k:])) for k in range(len(parts)))
