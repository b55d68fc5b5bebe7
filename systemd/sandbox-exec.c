// sandbox-exec runs a program under the two seccomp filters of
// onaird.service that can be tried without systemd as PID 1:
//
//   MemoryDenyWriteExecute=yes  mmap/mmap2 with PROT_WRITE|PROT_EXEC,
//                               mprotect/pkey_mprotect with PROT_EXEC and
//                               shmat with SHM_EXEC fail (the same rules
//                               systemd installs, see systemd.exec(5));
//   SystemCallFilter=           only the syscalls named in an allow-list
//                               file succeed; SystemCallErrorNumber=EPERM
//                               makes every other fail with EPERM.
//
// Usage: sandbox-exec [-t] ALLOWLIST -- PROGRAM [ARG...]
//   ALLOWLIST  one syscall name per line (scripts/systemd-check.sh expands
//              the unit's SystemCallFilter= with systemd-analyze); names
//              this architecture lacks are ignored, as systemd does.
//   -t         a refused call raises SIGSYS instead of returning EPERM, to
//              find which call it was (Go prints the stack).
//
// Before exec it checks, in a child, that both filters bite: a W+X mmap and
// ptrace (left out of @system-service) must fail with EPERM.
//
// Build: cc -O2 -o sandbox-exec sandbox-exec.c -lseccomp (libseccomp-dev).
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, int err) {
	fprintf(stderr, "sandbox-exec: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(125);
}

// load_allowlist installs the SystemCallFilter= allow-list.
static int load_allowlist(const char *path, uint32_t refuse) {
	FILE *f = fopen(path, "r");
	if (!f) die(path, errno);
	scmp_filter_ctx ctx = seccomp_init(refuse);
	if (!ctx) die("seccomp_init", ENOMEM);
	char line[128];
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, " \t\r\n")] = 0;
		if (!line[0] || line[0] == '#' || line[0] == '@') continue;
		int nr = seccomp_syscall_resolve_name(line);
		if (nr == __NR_SCMP_ERROR) continue; // not on this architecture
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0 && r != -EEXIST) die(line, r);
		n++;
	}
	fclose(f);
	int r = seccomp_load(ctx);
	if (r < 0) die("seccomp_load (allow-list)", r);
	seccomp_release(ctx);
	return n;
}

// load_mdwe installs MemoryDenyWriteExecute= as its own filter, as systemd
// does: the kernel applies the most restrictive answer of all filters.
static void load_mdwe(uint32_t refuse) {
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) die("seccomp_init", ENOMEM);
	const int wx = PROT_WRITE | PROT_EXEC;
	const char *mmaps[] = {"mmap", "mmap2"};
	for (size_t i = 0; i < 2; i++) {
		int nr = seccomp_syscall_resolve_name(mmaps[i]);
		if (nr == __NR_SCMP_ERROR) continue;
		int r = seccomp_rule_add(ctx, refuse, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, wx));
		if (r < 0) die(mmaps[i], r);
	}
	const char *mprots[] = {"mprotect", "pkey_mprotect"};
	for (size_t i = 0; i < 2; i++) {
		int nr = seccomp_syscall_resolve_name(mprots[i]);
		if (nr == __NR_SCMP_ERROR) continue;
		int r = seccomp_rule_add(ctx, refuse, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
		if (r < 0) die(mprots[i], r);
	}
	int nr = seccomp_syscall_resolve_name("shmat");
	if (nr != __NR_SCMP_ERROR) {
		int r = seccomp_rule_add(ctx, refuse, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC));
		if (r < 0) die("shmat", r);
	}
	int r = seccomp_load(ctx);
	if (r < 0) die("seccomp_load (MemoryDenyWriteExecute)", r);
	seccomp_release(ctx);
}

// install loads both filters. The allow-list goes last: it does not allow
// seccomp(2) itself.
static int install(const char *list, uint32_t refuse) {
	load_mdwe(refuse);
	return load_allowlist(list, refuse);
}

// bites reports whether both filters refuse what they must: a W+X mmap,
// and ptrace, which @system-service leaves out. It runs in a child so the
// probes cannot disturb the program that is run afterwards.
static int bites(const char *list) {
	pid_t pid = fork();
	if (pid < 0) die("fork", errno);
	if (pid == 0) {
		install(list, SCMP_ACT_ERRNO(EPERM));
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED || errno != EPERM) {
			fprintf(stderr, "sandbox-exec: a W+X mmap was not refused\n");
			_exit(1);
		}
		errno = 0;
		if (ptrace(PTRACE_PEEKDATA, -1, NULL, NULL) != -1 || errno != EPERM) {
			fprintf(stderr, "sandbox-exec: ptrace was not refused\n");
			_exit(1);
		}
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0) die("waitpid", errno);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(int argc, char **argv) {
	int trap = 0, i = 1;
	if (i < argc && strcmp(argv[i], "-t") == 0) {
		trap = 1;
		i++;
	}
	if (argc - i < 3 || strcmp(argv[i + 1], "--") != 0) {
		fprintf(stderr, "usage: sandbox-exec [-t] ALLOWLIST -- PROGRAM [ARG...]\n");
		return 125;
	}
	const char *list = argv[i];
	char **prog = &argv[i + 2];
	if (!bites(list)) {
		fprintf(stderr, "sandbox-exec: the filters do not work here; nothing was run\n");
		return 125;
	}
	int n = install(list, trap ? SCMP_ACT_TRAP : SCMP_ACT_ERRNO(EPERM));
	fprintf(stderr, "sandbox-exec: %d syscalls allowed, W+X memory refused, running %s\n", n, prog[0]);
	execvp(prog[0], prog);
	die(prog[0], errno);
}
