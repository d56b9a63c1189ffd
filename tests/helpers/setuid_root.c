/* setuid_root: a setuid-root binary that turns its effective root into a
 * full root identity (privilege escalation via a planted SUID file).
 *
 * The test installs it root:root mode 4755 and runs it as an unprivileged
 * user (e.g. setpriv --reuid=65534 --regid=65534 --clear-groups ...).
 *
 * usage: setuid_root [--exec PATH [ARGS...]]
 *   Calls setuid(0) then setgid(0). With --exec, then execv(PATH, [PATH,
 *   ARGS...]) so the test sees a root program spawned from it.
 * stdout: {"pid":P,"uid_before":U,"euid_before":E,"gid_before":G,
 *   "egid_before":EG,"rc":R,"errno":N,"setgid_rc":R2,"setgid_errno":N2,
 *   "uid_after":..,"euid_after":..,"gid_after":..,"egid_after":..,"exec":PATH|null}
 *   (rc/errno are setuid's).
 * exit: 0 if both calls succeeded (or the exec'd program's status with
 *   --exec), 1 if setuid/setgid failed (e.g. not installed SUID, nosuid
 *   mount), 2 usage, 3 exec failed. */
#define _GNU_SOURCE
#include <stdlib.h>
#include "helper.h"

int main(int argc, char **argv)
{
	const char *exec_path = NULL;

	alarm(HELPER_TIMEOUT_S);
	if (argc >= 2) {
		if (strcmp(argv[1], "--exec") != 0 || argc < 3) {
			fprintf(stderr, "usage: setuid_root [--exec PATH [ARGS...]]\n");
			return 2;
		}
		exec_path = argv[2];
	}

	uid_t uid0 = getuid(), euid0 = geteuid();
	gid_t gid0 = getgid(), egid0 = getegid();
	int rc = setuid(0);
	int err = rc < 0 ? errno : 0;
	int grc = setgid(0);
	int gerr = grc < 0 ? errno : 0;

	printf("{\"pid\":%d,\"uid_before\":%u,\"euid_before\":%u,\"gid_before\":%u,"
	       "\"egid_before\":%u,\"rc\":%d,\"errno\":%d,\"error\":\"%s\","
	       "\"setgid_rc\":%d,\"setgid_errno\":%d,\"uid_after\":%u,"
	       "\"euid_after\":%u,\"gid_after\":%u,\"egid_after\":%u,\"exec\":",
	       getpid(), uid0, euid0, gid0, egid0, rc, err, errname(err), grc,
	       gerr, getuid(), geteuid(), getgid(), getegid());
	json_str(exec_path);
	json_end();

	if (rc < 0 || grc < 0)
		return 1;
	if (exec_path) {
		argv[2] = (char *)exec_path;
		execv(exec_path, &argv[2]);
		fprintf(stderr, "setuid_root: execv %s: %s\n", exec_path, strerror(errno));
		return 3;
	}
	return 0;
}
