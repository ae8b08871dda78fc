"""The CalDAV servers people run, from Debian's packages, on a free loopback port: DAViCal, Cyrus, SOGo.

Each ``start_*`` installs its packages once per machine (``dpkg -s`` tells whether they are there; the
install runs ``apt-get`` with a ``policy-rc.d`` that keeps the packaged services from starting on their
standard ports), configures the server under a temporary directory and starts it in the foreground on
127.0.0.1:<free port>. When the packages cannot be had (no apt, not root, no such package, no PostgreSQL for
DAViCal), :class:`Unavailable` says why and the fixtures skip with that reason.

- **DAViCal** 1.1 (PHP behind Apache, on PostgreSQL): a database of its own on the test PostgreSQL
  (``CRENEAU_TEST_DATABASE_URL`` when it is one, else postgres@127.0.0.1:5432), built by DAViCal's
  ``create-database.sh``; users inserted into its ``usr``/``principal`` tables. DAViCal reads its
  configuration from ``/etc/davical/<SERVER_NAME>-conf.php``: Apache runs with ``UseCanonicalName On`` and a
  ServerName unique to the port, and that one file is removed at teardown. Calendars live at
  ``/caldav.php/<user>/<name>/``; the scheduling Inbox and Outbox at ``.in/`` and ``.out/``.
- **Cyrus IMAP** 3.6 (what Fastmail runs): ``master`` as the ``cyrus`` user with an ``imapd`` and an
  ``httpd`` (CalDAV) service on two free ports, passwords in a sasldb of its own; an admin creates each user's
  mailbox over IMAP. Principals at ``/dav/principals/user/<user>/``, calendars at
  ``/dav/calendars/user/<user>/<name>/``.
- **SOGo** 5.8 (``sogod`` with a memcached of its own, users in a SQL table, Apache as its proxy): principals
  at ``/SOGo/dav/<user>/``, calendars at ``/SOGo/dav/<user>/Calendar/<name>/``.

Every server runs in a process group of its own (Apache signals its whole group when it stops) and
:meth:`PackagedServer.stop` ends that group.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.servers import RunningServer, free_port, wait_until

INSTALL_TIMEOUT = 900.0  # seconds; a first install on a slow CI machine
READY_TIMEOUT = 30.0
_LOCK = Path("/tmp/creneau-test-apt.lock")
_updated = False


class Unavailable(Exception):
    """The server cannot run on this machine; the message says why (the fixtures skip with it)."""


def missing_packages(packages: Sequence[str]) -> list[str]:
    missing = []
    for package in packages:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        )
        if "install ok installed" not in result.stdout:
            missing.append(package)
    return missing


def ensure_packages(packages: Sequence[str]) -> None:
    """Install ``packages`` with apt-get unless they are there. :raises Unavailable: when that cannot be."""
    global _updated
    if shutil.which("dpkg-query") is None or shutil.which("apt-get") is None:
        raise Unavailable("this machine has no dpkg/apt-get to install the server's Debian packages")
    if not missing_packages(packages):
        return
    if os.geteuid() != 0:
        raise Unavailable(f"packages {', '.join(missing_packages(packages))} are missing and we are not root")
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one install at a time on this machine
        missing = missing_packages(packages)
        if not missing:
            return
        policy = Path("/usr/sbin/policy-rc.d")
        ours = not policy.exists()
        if ours:  # no packaged service may start on its standard port
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            if not _updated:
                _apt(["apt-get", "update", "-q"], env)
                _updated = True
            _apt(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env)
        finally:
            if ours:
                policy.unlink()
    still = missing_packages(packages)
    if still:
        raise Unavailable(f"apt-get did not install {', '.join(still)}")


def _apt(command: list[str], env: dict[str, str]) -> None:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{' '.join(command)} did not finish within {INSTALL_TIMEOUT:.0f}s") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise Unavailable(f"{' '.join(command)} failed: {' / '.join(tail)}")


# -- PostgreSQL for DAViCal and SOGo ---------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str | None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def psql(self, database: str, sql: str) -> str:
        result = subprocess.run(
            ["psql", "-qXAt", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
            capture_output=True,
            text=True,
            env=self.env(),
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()[-500:]}")
        return result.stdout

    def dsn(self, database: str) -> str:
        password = f" password={self.password}" if self.password else ""
        return f"host={self.host} port={self.port} dbname={database} user={self.user}{password}"


def test_postgres() -> Postgres:
    """The PostgreSQL the tests use. :raises Unavailable: when none answers."""
    url = os.environ.get("CRENEAU_TEST_DATABASE_URL", "")
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1)) if "postgres" in url else None
    server = Postgres(
        host=(parts.hostname if parts else None) or "127.0.0.1",
        port=(parts.port if parts else None) or 5432,
        user=(parts.username if parts else None) or "postgres",
        password=parts.password if parts else None,
    )
    if shutil.which("psql") is None:
        raise Unavailable("psql is not installed (it comes with DAViCal's postgresql-client dependency)")
    try:
        server.psql("postgres", "SELECT 1")
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(
            f"no PostgreSQL at {server.host}:{server.port} for the server's database: {exc}"
        ) from None
    return server


# -- the servers -----------------------------------------------------------------------------------------


@dataclass
class PackagedServer(RunningServer):
    """A server started from Debian's packages; ``base`` is the path of its CalDAV root ("/caldav.php/")."""

    base: str = "/"
    principals: str | None = None  # the path of the principals when not ``base`` ("/dav/principals/user/")
    home_suffix: str = ""  # the calendar home below the principal's path ("Calendar/" for SOGo)
    cleanup: list[Path] = field(default_factory=list, repr=False)
    databases: list[tuple[Postgres, str]] = field(default_factory=list, repr=False)
    extra_processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def dav_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base}"

    def principal_url(self, user: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.principals or self.base}{user}/"

    def home_url(self, user: str) -> str:
        return f"{self.dav_url}{user}/{self.home_suffix}"

    def stop(self) -> None:
        """Stop the server's whole process group (Apache, Cyrus and SOGo fork workers), then clean up."""
        if self._stopped:
            return
        self._stopped = True
        for client in self._sessions.values():
            client.close()
        self._sessions.clear()
        for process in [self.process, *self.extra_processes]:
            _stop_group(process)
        for path in self.cleanup:
            path.unlink(missing_ok=True)
        for postgres, database in self.databases:
            with contextlib.suppress(RuntimeError):
                postgres.psql("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group that ``process`` leads (``start_new_session``); SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


DAVICAL_PACKAGES = ("davical", "apache2", "libapache2-mod-php", "php-pgsql", "php-xml", "postgresql-client")


def _php_module() -> Path:
    found = sorted(Path("/usr/lib/apache2/modules").glob("libphp*.so"))
    if not found:
        raise Unavailable("Apache has no PHP module (libapache2-mod-php)")
    return found[-1]


_APACHE_MODULES = ("mpm_prefork", "authz_core", "mime", "dir", "alias", "rewrite", "setenvif", "env")


def _apache_conf(root: Path, port: int, server_name: str, body: str, modules: Sequence[str]) -> Path:
    loads = "\n".join(
        f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in (*_APACHE_MODULES, *modules)
    )
    conf = root / "apache.conf"
    conf.write_text(
        f"""ServerRoot {root}
DefaultRuntimeDir {root}
PidFile {root}/apache.pid
Mutex file:{root} default
Listen 127.0.0.1:{port}
ServerName {server_name}:{port}
UseCanonicalName On
User www-data
Group www-data
ErrorLog {root}/apache-error.log
LogLevel warn
TypesConfig /etc/mime.types
StartServers 2
MinSpareServers 2
MaxSpareServers 4
MaxRequestWorkers 8
{loads}
{body}
"""
    )
    return conf


def start_davical(root: Path, users: dict[str, str]) -> PackagedServer:
    """DAViCal behind Apache + mod_php on 127.0.0.1:<free port>, with a fresh database. ``users``: name →
    password. :raises Unavailable: see the module docstring."""
    ensure_packages(DAVICAL_PACKAGES)
    postgres = test_postgres()
    php = _php_module()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    port = free_port()
    server_name = f"creneau-davical-{port}"
    database = f"creneau_davical_{uuid.uuid4().hex[:10]}"
    build = subprocess.run(
        ["sh", "/usr/share/davical/dba/create-database.sh", database, "admin-" + uuid.uuid4().hex[:8]],
        capture_output=True,
        text=True,
        env=postgres.env(),
        check=False,
        timeout=300,
    )
    if build.returncode != 0 or "Unable" in build.stdout:
        raise RuntimeError(
            f"DAViCal's create-database.sh failed:\n{build.stdout[-1500:]}{build.stderr[-1500:]}"
        )
    rows = []
    for n, (name, password) in enumerate(users.items(), start=100):
        rows.append(
            "INSERT INTO usr (user_no, active"  # noqa: S608 - test names and passwords of our own
            ", email_ok, updated, username, password, fullname, email) "
            f"VALUES ({n}, TRUE, current_date, current_date, '{name}', '**{password}', '{name} Owner', "
            f"'{name}.owner@example.org');"
            "INSERT INTO principal (principal_id, type_id, user_no, displayname, default_privileges) "
            f"VALUES ({n}, 1, {n}, '{name} Owner', NULL);"
        )
        # What DAViCal's CreateHomeCollections makes with home_in/out_calendar_name: plain calendars.
        for folder, suffix in ((".in", "Inbox"), (".out", "Outbox")):
            rows.append(
                "INSERT INTO collection (user_no, parent_container"  # noqa: S608 - our test names
                ", dav_name, dav_etag, dav_displayname, "
                "is_calendar, is_addressbook, default_privileges, created, modified, resourcetypes) "
                f"VALUES ({n}, '/{name}/', '/{name}/{folder}/', '-1', '{name} Owner {suffix}', TRUE, FALSE, "
                "NULL, current_timestamp, current_timestamp, "
                "'<DAV::collection/><urn:ietf:params:xml:ns:caldav:calendar/>');"
            )
    postgres.psql(database, "BEGIN;" + "".join(rows) + "COMMIT;")
    config = Path("/etc/davical") / f"{server_name}-conf.php"
    config.write_text(
        "<?php\n"
        f"$c->pg_connect[] = '{postgres.dsn(database)}';\n"
        "$c->system_name = 'creneau test DAViCal';\n"
        "$c->admin_email = 'admin@example.org';\n"
        "$c->default_locale = 'en_US.UTF-8';\n"
        "$c->collections_always_exist = false;\n"
        "$c->home_calendar_name = 'calendar';\n"
        "$c->home_in_calendar_name = '.in';\n"
        "$c->home_out_calendar_name = '.out';\n"
        # The unique ServerName only picked this file: URLs and redirects name the address we listen on.
        "$c->domain_name = '127.0.0.1';\n"
        "$_SERVER['SERVER_NAME'] = '127.0.0.1';\n"
    )
    body = f"""DocumentRoot /usr/share/davical/htdocs
DirectoryIndex index.php
LoadModule php_module {php}
<FilesMatch "\\.php$">
  SetHandler application/x-httpd-php
</FilesMatch>
<Directory /usr/share/davical/htdocs>
  Require all granted
  AllowOverride None
</Directory>
php_value include_path /usr/share/awl/inc
php_value log_errors On
php_value error_log {root}/php-error.log
RewriteEngine On
RewriteRule ^/\\.well-known/caldav /caldav.php/.well-known/caldav [PT,L]
"""
    conf = _apache_conf(root, port, server_name, body, ())
    log_path = root / "apache.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["/usr/sbin/apache2", "-f", str(conf), "-DFOREGROUND"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            start_new_session=True,  # Apache signals its whole process group when it stops
        )
    server = PackagedServer(
        "davical", port, root, dict(users), process, log_path, base="/caldav.php/", cleanup=[config]
    )
    server.databases.append((postgres, database))
    _wait_ready(server, server.dav_url, users)
    return server


def _wait_ready(server: PackagedServer, url: str, users: dict[str, str]) -> None:
    user, password = next(iter(users.items()))

    def ready() -> bool:
        if server.process.poll() is not None:
            log = server.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{server.kind} exited with {server.process.returncode}:\n{log}")
        try:
            answer = httpx.request(
                "PROPFIND", url, auth=(user, password), headers={"Depth": "0"}, timeout=2.0
            )
        except httpx.TransportError:
            return False
        return answer.status_code == 207

    try:
        wait_until(ready, timeout=READY_TIMEOUT, what=f"{server.kind} on port {server.port}")
    except BaseException:
        server.stop()
        raise


CYRUS_PACKAGES = ("cyrus-imapd", "cyrus-caldav", "sasl2-bin")
CYRUS_ADMIN = ("cyrusadmin", "admin-" + uuid.uuid4().hex[:12])


def start_cyrus(root: Path, users: dict[str, str]) -> PackagedServer:
    """Cyrus IMAP's httpd (CalDAV) on 127.0.0.1:<free port>, with its IMAP service on another free port for
    creating the users' mailboxes; passwords in a sasldb of its own. Runs as the ``cyrus`` user.
    Calendars live at ``/dav/calendars/user/<user>/<name>/``.

    :raises Unavailable: see the module docstring"""
    ensure_packages(CYRUS_PACKAGES)
    import grp
    import imaplib
    import pwd

    try:
        uid, gid = pwd.getpwnam("cyrus").pw_uid, grp.getgrnam("mail").gr_gid
    except KeyError:
        raise Unavailable("the cyrus user or the mail group is missing") from None
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    for parent in root.parents:  # the cyrus user must reach its files under pytest's private folder
        if str(parent).startswith("/tmp/") and parent.stat().st_mode & 0o111 != 0o111:
            parent.chmod(parent.stat().st_mode | 0o111)
    for folder in ("conf", "spool", "run", "sieve"):
        (root / folder).mkdir(exist_ok=True)
    port, imap_port = free_port(), free_port()
    sasldb = root / "sasldb2"
    for name, password in {**users, CYRUS_ADMIN[0]: CYRUS_ADMIN[1]}.items():
        subprocess.run(
            ["saslpasswd2", "-p", "-c", "-f", str(sasldb), "-u", "127.0.0.1", name],
            input=password,
            text=True,
            check=True,
            capture_output=True,
        )
    imapd_conf = root / "imapd.conf"
    imapd_conf.write_text(
        f"""configdirectory: {root}/conf
partition-default: {root}/spool
sievedir: {root}/sieve
admins: {CYRUS_ADMIN[0]}
servername: 127.0.0.1
virtdomains: off
unixhierarchysep: yes
altnamespace: yes
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {sasldb}
sasl_mech_list: PLAIN LOGIN
httpmodules: caldav
httpallowcompress: no
caldav_realm: creneau
caldav_allowscheduling: off
calendarprefix: #calendars
lmtpsocket: {root}/run/lmtp
idlesocket: {root}/run/idle
notifysocket: {root}/run/notify
"""
    )
    cyrus_conf = root / "cyrus.conf"
    cyrus_conf.write_text(
        f"""START {{
  recover cmd="ctl_cyrusdb -r -C {imapd_conf}"
}}
SERVICES {{
  imap cmd="imapd -C {imapd_conf}" listen="127.0.0.1:{imap_port}" prefork=0
  http cmd="httpd -C {imapd_conf}" listen="127.0.0.1:{port}" prefork=1
}}
EVENTS {{
}}
DAEMON {{
}}
"""
    )
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid)
    log_path = root / "cyrus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                "/usr/lib/cyrus/bin/master",
                "-C",
                str(imapd_conf),
                "-M",
                str(cyrus_conf),
                "-p",
                str(root / "run" / "master.pid"),
                "-D",
                "-l",
                "32",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            start_new_session=True,
            user=uid,
            group=gid,
        )
    server = PackagedServer(
        "cyrus",
        port,
        root,
        dict(users),
        process,
        log_path,
        base="/dav/calendars/user/",
        principals="/dav/principals/user/",
    )

    def imap_up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"cyrus exited with {process.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", imap_port), timeout=1.0):
                return True
        except OSError:
            return False

    try:
        wait_until(imap_up, timeout=READY_TIMEOUT, what=f"cyrus imapd on port {imap_port}")
        imap = imaplib.IMAP4("127.0.0.1", imap_port)
        imap.login(*CYRUS_ADMIN)
        for name in users:
            status, answer = imap.create(f"user/{name}")
            if status != "OK":
                raise RuntimeError(f"cyrus refused to create the mailbox of {name}: {answer!r}")
        imap.logout()
    except BaseException:
        server.stop()
        raise
    _wait_ready(server, server.dav_url + next(iter(users)) + "/", users)
    return server


SOGO_PACKAGES = ("sogo", "memcached", "apache2", "postgresql-client")


def start_sogo(root: Path, users: dict[str, str]) -> PackagedServer:
    """SOGo 5 (``sogod``, as the ``sogo`` user, every setting on its command line so that the packaged
    /etc/sogo/sogo.conf does not matter) with a memcached of its own, on free loopback ports; its users in a
    SQL table of a fresh database on the test PostgreSQL, behind Apache as a reverse proxy. Principals at
    ``/SOGo/dav/<user>/``, calendars at ``/SOGo/dav/<user>/Calendar/<name>/``.

    :raises Unavailable: see the module docstring"""
    ensure_packages(SOGO_PACKAGES)
    import pwd

    postgres = test_postgres()
    try:
        sogo, memcache = pwd.getpwnam("sogo"), pwd.getpwnam("memcache")
    except KeyError:
        raise Unavailable("the sogo or memcache user is missing") from None
    root.mkdir(parents=True, exist_ok=True)
    for parent in root.parents:  # the sogo user must reach its folder under pytest's private one
        if str(parent).startswith("/tmp/") and parent.stat().st_mode & 0o111 != 0o111:
            parent.chmod(parent.stat().st_mode | 0o111)
    os.chown(root, sogo.pw_uid, sogo.pw_gid)
    database = f"creneau_sogo_{uuid.uuid4().hex[:10]}"
    postgres.psql("postgres", f'CREATE DATABASE "{database}"')
    rows = "".join(
        f"INSERT INTO sogo_users VALUES ('{name}', '{name}', '{password}', '{name} Owner', "  # noqa: S608
        f"'{name}.owner@example.org');"
        for name, password in users.items()
    )
    postgres.psql(
        database,
        "CREATE TABLE sogo_users (c_uid varchar(64) PRIMARY KEY, c_name varchar(64), "
        f"c_password varchar(128), c_cn varchar(128), mail varchar(128));{rows}",
    )
    port, sogo_port, memcached_port = free_port(), free_port(), free_port()
    memcached_log = (root / "memcached.log").open("wb")
    memcached = subprocess.Popen(
        ["memcached", "-l", "127.0.0.1", "-p", str(memcached_port), "-U", "0", "-u", memcache.pw_name],
        stdout=memcached_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    memcached_log.close()
    db = f"postgresql://{postgres.user}:{postgres.password or 'x'}@{postgres.host}:{postgres.port}/{database}"
    sources = (
        f'({{type = sql; id = users; viewURL = "{db}/sogo_users"; canAuthenticate = YES; '
        "isAddressBook = NO; userPasswordAlgorithm = plain;})"
    )
    settings = {
        "WOPort": f"127.0.0.1:{sogo_port}",
        "WONoDetach": "YES",
        "WOLogFile": str(root / "sogo.log"),
        "WOPidFile": str(root / "sogo.pid"),
        "WOWorkersCount": "2",
        "SOGoMemcachedHost": f"127.0.0.1:{memcached_port}",
        "SOGoProfileURL": f"{db}/sogo_user_profile",
        "OCSFolderInfoURL": f"{db}/sogo_folder_info",
        "OCSSessionsFolderURL": f"{db}/sogo_sessions_folder",
        "OCSEMailAlarmsFolderURL": f"{db}/sogo_alarms_folder",
        "SOGoTimeZone": "UTC",
        "SOGoUserSources": sources,
        "SOGoAppointmentSendEMailNotifications": "NO",
    }
    command = ["/usr/sbin/sogod", *[part for key, value in settings.items() for part in (f"-{key}", value)]]
    log_path = root / "sogod.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={"HOME": str(root), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            start_new_session=True,
            user=sogo.pw_uid,
            group=sogo.pw_gid,
        )
    # Apache in front, as in every SOGo deployment (Debian's /usr/share/doc/sogo/apache.conf): the
    # .well-known redirect, keep-alive towards clients (sogod closes each connection), and the
    # x-webobjects-* headers from which SOGo builds its URLs.
    body = f"""Redirect /.well-known/caldav /SOGo/dav/
ProxyRequests Off
ProxyPreserveHost On
ProxyPass /SOGo http://127.0.0.1:{sogo_port}/SOGo retry=0 disablereuse=On
<Location /SOGo>
  RequestHeader set x-webobjects-server-port "{port}"
  RequestHeader set x-webobjects-server-name "127.0.0.1"
  RequestHeader set x-webobjects-server-url "http://127.0.0.1:{port}"
  RequestHeader set x-webobjects-server-protocol "HTTP/1.0"
  RequestHeader set x-webobjects-remote-host "127.0.0.1"
</Location>
"""
    conf = _apache_conf(root, port, "127.0.0.1", body, ("proxy", "proxy_http", "headers"))
    apache_log = (root / "apache.log").open("wb")
    apache = subprocess.Popen(
        ["/usr/sbin/apache2", "-f", str(conf), "-DFOREGROUND"],
        stdout=apache_log,
        stderr=subprocess.STDOUT,
        cwd=root,
        start_new_session=True,
    )
    apache_log.close()
    server = PackagedServer(
        "sogo", port, root, dict(users), process, log_path, base="/SOGo/dav/", home_suffix="Calendar/"
    )
    server.extra_processes += [apache, memcached]
    server.databases.append((postgres, database))
    _wait_ready(server, server.home_url(next(iter(users))), users)
    return server
