"""Container images without a registry: a Debian base from debootstrap, and a busybox image.

Building the Debian root file system takes about a minute, so its tarball is cached on disk
outside the repository, keyed by a hash of the recipe; a file lock lets parallel test sessions
share one build. Each session's private engine then only imports the tarball (a few seconds).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.commands import BedError, run, unmount_below

SUITE = "bookworm"
PACKAGES = (
    "python3",
    "python3-venv",
    "python3-pip",
    "postgresql-15",
    "alembic",
    "python3-psycopg2",
    "python3-sqlalchemy",
    "ca-certificates",
)
# Bump when the way the root file system is made changes, so old cached tarballs are not reused.
RECIPE = 1
# Parts of the root file system nothing in the tests reads; dropping them halves the import.
TRIM = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    # The cluster postgresql-common creates on install: the sample app runs its own in a volume,
    # and a stray cluster would make pg_wrapper (psql, pg_dump) default to the wrong port.
    "etc/postgresql/15/main",
    "var/lib/postgresql/15/main",
)
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
)


def cache_dir() -> Path:
    """Where built root file systems are kept between runs (DEPLOYHOOK_TEST_CACHE overrides)."""
    return Path(os.environ.get("DEPLOYHOOK_TEST_CACHE", "/var/cache/deployhook-tests"))


def base_key() -> str:
    recipe = {"suite": SUITE, "packages": sorted(PACKAGES), "trim": TRIM, "recipe": RECIPE}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def base_image_name() -> str:
    return f"deployhook-test-base:{base_key()}"


def apt_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt uses here: debootstrap must reach the same one (no other network)."""
    override = os.environ.get("DEPLOYHOOK_TEST_MIRROR")
    if override:
        return override
    files = [*sorted(sources.glob("sources.list.d/*")), sources / "sources.list"]
    for path in files:
        text = path.read_text() if path.is_file() else ""
        uris: list[str] = re.findall(r"^URIs:\s*(\S+)", text, flags=re.MULTILINE)
        uris += re.findall(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+", text, flags=re.MULTILINE)
        for uri in uris:
            if uri.rstrip("/").endswith("/debian"):
                return uri
    raise BedError(
        f"expected a Debian mirror in {sources}/sources.list*, found none; "
        "set DEPLOYHOOK_TEST_MIRROR"
    )


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (a lock file) so parallel sessions build once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def base_tarball() -> Path:
    """The cached root file system tarball, built with debootstrap when missing."""
    key = base_key()
    tarball = cache_dir() / f"base-{key}.tar"
    with locked(cache_dir() / f"base-{key}.lock"):
        if not tarball.exists():
            _build_tarball(tarball, cache_dir() / f"base-{key}.build")
    return tarball


def _build_tarball(tarball: Path, build_dir: Path) -> None:
    if build_dir.exists():  # left by a run that died midway
        unmount_below(build_dir)
        shutil.rmtree(build_dir)
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE]
    run([*argv, str(build_dir), apt_mirror()], timeout=1200)
    unmount_below(build_dir)
    for relative in TRIM:
        shutil.rmtree(build_dir / relative, ignore_errors=True)
    partial = tarball.with_suffix(".partial")
    run(["tar", "--numeric-owner", "-C", str(build_dir), "-cf", str(partial), "."], timeout=600)
    partial.rename(tarball)
    shutil.rmtree(build_dir)


def image_exists(name: str, env: Mapping[str, str]) -> bool:
    return run(["docker", "image", "inspect", name], env=env, check=False).returncode == 0


def import_base_image(env: Mapping[str, str]) -> str:
    """Make the Debian base image exist in the engine `env` points at; return its name."""
    name = base_image_name()
    if not image_exists(name, env):
        changes = [part for change in IMPORT_CHANGES for part in ("--change", change)]
        run(["docker", "import", *changes, str(base_tarball()), name], env=env, timeout=600)
    if not image_exists(name, env):
        raise BedError(f"expected image {name} after docker import, got none")
    return name


BUSYBOX_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""


def build_busybox_image(env: Mapping[str, str], name: str = "deployhook-test-busybox:1") -> str:
    """A 2 MB image with sh, httpd and friends from the host's static busybox."""
    if image_exists(name, env):
        return name
    busybox = shutil.which("busybox")
    if busybox is None:
        raise BedError("expected busybox on PATH, got none; apt-get install busybox-static")
    with tempfile.TemporaryDirectory(prefix="dh-busybox-") as context:
        shutil.copy(busybox, Path(context) / "busybox")
        (Path(context) / "Dockerfile").write_text(BUSYBOX_DOCKERFILE)
        run(["docker", "build", "-q", "-t", name, context], env=env, timeout=300)
    return name


CADDY_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY caddy /usr/bin/caddy
COPY libzstd.so.1 /usr/lib/x86_64-linux-gnu/libzstd.so.1
"""


def build_caddy_image(env: Mapping[str, str], base_image: str) -> str:
    """The host's Caddy (Debian's package) on the Debian base image: the proxy of a test stack.

    Built beside the shared base image rather than into it, so the cached base stays as it is.
    """
    name = f"deployhook-test-caddy:{base_image.rsplit(':', 1)[-1]}"
    if image_exists(name, env):
        return name
    caddy = shutil.which("caddy")
    zstd = Path("/usr/lib/x86_64-linux-gnu/libzstd.so.1")
    if caddy is None or not zstd.exists():
        raise BedError("expected caddy and libzstd1 on the host, got none; apt-get install caddy")
    with tempfile.TemporaryDirectory(prefix="dh-caddy-") as context:
        shutil.copy(caddy, Path(context) / "caddy")
        shutil.copy(zstd, Path(context) / "libzstd.so.1")
        (Path(context) / "Dockerfile").write_text(CADDY_DOCKERFILE)
        build = ["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base_image}"]
        run([*build, "-t", name, context], env=env, timeout=300)
    return name


NGINX_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY nginx /usr/sbin/nginx
COPY libs/ /usr/lib/x86_64-linux-gnu/
RUN ["mkdir", "-p", "/var/lib/nginx", "/var/log/nginx", "/etc/nginx"]
"""
# What Debian's nginx-light links beyond glibc; the base image may lack some of them.
NGINX_LIBRARIES = ("libcrypt.so.1", "libpcre2-8.so.0", "libssl.so.3", "libcrypto.so.3", "libz.so.1")


def build_nginx_image(env: Mapping[str, str], base_image: str) -> str:
    """The host's nginx (Debian's nginx-light) on the Debian base image, as Caddy is."""
    name = f"deployhook-test-nginx:{base_image.rsplit(':', 1)[-1]}"
    if image_exists(name, env):
        return name
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    libraries = [Path("/usr/lib/x86_64-linux-gnu") / library for library in NGINX_LIBRARIES]
    if not Path(nginx).exists() or not all(library.exists() for library in libraries):
        raise BedError("expected nginx and its libraries on the host; apt-get install nginx-light")
    with tempfile.TemporaryDirectory(prefix="dh-nginx-") as context:
        shutil.copy(nginx, Path(context) / "nginx")
        (Path(context) / "libs").mkdir()
        for library in libraries:
            shutil.copy(library, Path(context) / "libs" / library.name)
        (Path(context) / "Dockerfile").write_text(NGINX_DOCKERFILE)
        build = ["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base_image}"]
        run([*build, "-t", name, context], env=env, timeout=300)
    return name
