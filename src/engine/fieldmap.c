#define _GNU_SOURCE
/* Sigma's Linux field names and log source categories, mapped onto vigil's
 * ECS events. The tables here are documented in docs/sigma-fields.md: keep
 * the two in step. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "rule.h"
#include "sigma_int.h"

static const struct {
	const char *sigma, *ecs;
} field_map[] = {
	{"Image", "process.executable"},
	{"CommandLine", "process.command_line"},
	{"ProcessName", "process.name"},
	{"ParentImage", "process.parent.executable"},
	{"ParentCommandLine", "process.parent.command_line"},
	{"User", "user.id"}, /* names are resolved to uids; user.name is matched too */
	{"CurrentDirectory", "process.working_directory"},
	{"ProcessId", "process.pid"},
	{"ParentProcessId", "process.parent.pid"},
	{"LogonId", "vigil.sid"},
	{"TargetFilename", "file.path"},
	{"SourceFilename", "vigil.file.old_path"},
	{"DestinationIp", "destination.ip"},
	{"DestinationPort", "destination.port"},
	{"DestinationHostname", "dns.question.name"},
	{"SourceIp", "source.ip"},
	{"SourcePort", "source.port"},
	{"Initiated", "network.direction"},
	{"Protocol", "network.transport"},
	{"QueryName", "dns.question.name"},
	{"QueryType", "dns.question.type"},
	{"Hashes", "process.hash.sha256"},
	{"sha256", "process.hash.sha256"},
	{"TargetImage", "vigil.target.executable"},
	{"TargetProcessId", "vigil.target.pid"},
	{"Computer", "host.name"},
	{"ComputerName", "host.name"},
	{"Hostname", "host.name"},
};

const char *sigma_field_to_ecs(const char *name, const char *category)
{
	(void)category; /* the same names mean the same fields in every category today */
	for (size_t i = 0; i < sizeof(field_map) / sizeof(field_map[0]); i++)
		if (strcasecmp(name, field_map[i].sigma) == 0)
			return field_map[i].ecs;
	return name;
}

const char *sigma_value_to_ecs(const char *sigma_field, const char *value, char *buf, size_t cap)
{
	if (!value)
		return value;
	if (strcasecmp(sigma_field, "Initiated") == 0) {
		if (strcasecmp(value, "true") == 0)
			return "egress";
		if (strcasecmp(value, "false") == 0)
			return "ingress";
	} else if (strcasecmp(sigma_field, "Hashes") == 0) {
		/* Sysmon style "SHA256=abc,MD5=..": keep the sha256 part */
		const char *p = strcasestr(value, "SHA256=");
		if (p) {
			p += 7;
			size_t n = strcspn(p, ",");
			if (n >= cap)
				n = cap - 1;
			memcpy(buf, p, n);
			buf[n] = 0;
			return buf;
		}
	}
	return value;
}

static const struct {
	const char *action, *category;
	int len;
} action_map[] = {
	{"exec", "process_creation", 4},
	{"file_create", "file_event", 11},
	{"file_open_write", "file_event", 15},
	{"file_rename", "file_rename", 11},
	{"file_delete", "file_delete", 11},
	{"file_chmod", "file_change", 10},
	{"file_chown", "file_change", 10},
	{"file_utimes", "file_change", 11},
	{"file_truncate", "file_change", 13},
	{"file_link", "file_change", 9},
	{"file_symlink", "file_change", 12},
	{"file_xattr_set", "file_change", 14},
	{"file_xattr_remove", "file_change", 17},
	{"file_flags", "file_change", 10},
	{"connect", "network_connection", 7},
	{"accept", "network_connection", 6},
	{"bind", "network_connection", 4},
	{"listen", "network_connection", 6},
	{"dns_query", "dns_query", 9},
	/* vigil's own categories: the action is the category */
	{"exec_failed", "exec_failed", 11},
	{"fork", "fork", 4},
	{"exit", "exit", 4},
	{"setsid", "setsid", 6},
	{"comm_change", "comm_change", 11},
	{"memfd_create", "memfd_create", 12},
	{"file_read_sensitive", "file_read_sensitive", 19},
	{"socket_raw", "socket_raw", 10},
	{"cred_change", "cred_change", 11},
	{"ptrace", "ptrace", 6},
	{"module_load", "module_load", 11},
	{"module_unload", "module_unload", 13},
	{"mount", "mount", 5},
	{"umount", "umount", 6},
	{"bpf_prog_load", "bpf_prog_load", 13},
	{"signal", "signal", 6},
	{"vigil_metrics", "vigil_metrics", 13},
};
#define NACTIONS (sizeof(action_map) / sizeof(action_map[0]))

const char *const sigma_categories[] = {
	"process_creation", "file_event", "file_rename", "file_delete", "file_change",
	"network_connection", "dns_query", "exec_failed", "fork", "exit", "setsid",
	"comm_change", "memfd_create", "file_read_sensitive", "socket_raw", "cred_change",
	"ptrace", "module_load", "module_unload", "mount", "umount", "bpf_prog_load",
	"signal", "vigil_metrics", NULL,
};

bool sigma_category_known(const char *category)
{
	return sigma_category_index(category) >= 0;
}

const char *sigma_action_category(const char *action, size_t len)
{
	int i = sigma_action_category_index(action, len);
	return i < 0 ? NULL : sigma_categories[i];
}

int sigma_category_index(const char *category)
{
	for (int i = 0; sigma_categories[i]; i++)
		if (strcmp(category, sigma_categories[i]) == 0)
			return i;
	return -1;
}

int sigma_action_category_index(const char *action, size_t len)
{
	static int cache[NACTIONS];
	static int ready; /* benign race: every thread computes the same values */
	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
		for (size_t i = 0; i < NACTIONS; i++)
			cache[i] = sigma_category_index(action_map[i].category);
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	if (!len)
		return -1;
	for (size_t i = 0; i < NACTIONS; i++)
		if ((size_t)action_map[i].len == len && action_map[i].action[0] == action[0] &&
		    memcmp(action_map[i].action, action, len) == 0)
			return cache[i];
	return -1;
}
