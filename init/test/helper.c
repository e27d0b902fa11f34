/*
 * slipway-init-helper: the programs slipway-init's tests run under the init.
 * One static binary with subcommands, so a test container needs no shell
 * and runs the same on every architecture. Built by the same zig cc as the
 * init (crates/slipway-init/tests).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The init changes its directory and closes its fds right after fork:
 * give it that moment before looking. */
static const long settle_ms = 300;

static void die(const char *what)
{
	fprintf(stderr, "helper: %s: %s\n", what, strerror(errno));
	exit(100);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 0);
	if (!*s || *end) {
		fprintf(stderr, "helper: not a number: %s\n", s);
		exit(100);
	}
	return v;
}

static void block_all(void)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Print every signal received, one number a line; exit after `count`.
 * `skip` (0 for none) is neither printed nor counted: runc's own Go runtime
 * sends SIGURG that runc passes on to the container. */
static int sigprint(long count, int skip)
{
	sigset_t all;
	long n = 0;
	block_all();
	sigfillset(&all);
	printf("ready\n");
	while (n < count) {
		int sig = sigwaitinfo(&all, NULL);
		if (sig < 0 || sig == skip)
			continue;
		printf("%d\n", sig);
		n++;
	}
	return 0;
}

/* Count SIGUSR1 until SIGUSR2, then print the count and exit 7. */
static int sigcount(void)
{
	sigset_t all;
	long n = 0;
	block_all();
	sigfillset(&all);
	printf("ready\n");
	for (;;) {
		int sig = sigwaitinfo(&all, NULL);
		if (sig == SIGUSR1)
			n++;
		if (sig == SIGUSR2) {
			printf("count=%ld\n", n);
			return 7;
		}
	}
}

/* Blocked and ignored signals as the kernel (or qemu) reports them through
 * the system calls, bit n-1 for signal n, like SigBlk/SigIgn. */
static int mask(void)
{
	sigset_t cur;
	unsigned long long blk = 0, ign = 0;
	int s;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	for (s = 1; s <= 64 && s < _NSIG; s++) {
		struct sigaction sa;
		if (sigismember(&cur, s) == 1)
			blk |= 1ULL << (s - 1);
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			ign |= 1ULL << (s - 1);
	}
	printf("blk=%016llx ign=%016llx\n", blk, ign);
	return 0;
}

/* The same from /proc/self/status. */
static int procmask(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		die("/proc/self/status");
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7))
			fputs(line, stdout);
	return 0;
}

/* The init's own signal sets, from /proc/<ppid>/status. */
static int initstatus(void)
{
	char line[256], path[64];
	FILE *f;
	sleep_ms(settle_ms);
	snprintf(path, sizeof path, "/proc/%d/status", (int)getppid());
	f = fopen(path, "r");
	if (!f)
		die(path);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7) ||
		    !strncmp(line, "SigCgt:", 7))
			fputs(line, stdout);
	return 0;
}

static int withmask(unsigned long long blk, unsigned long long ign, char **argv)
{
	sigset_t set;
	int s;
	sigemptyset(&set);
	for (s = 1; s <= 64 && s < _NSIG; s++) {
		if (blk & (1ULL << (s - 1)))
			sigaddset(&set, s);
		/* Exactly the given set: what the test runner itself inherited
		 * (a background job ignores SIGINT and SIGQUIT) must not leak in. */
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, (ign & (1ULL << (s - 1))) ? SIG_IGN : SIG_DFL);
	}
	sigprocmask(SIG_SETMASK, &set, NULL);
	execvp(argv[0], argv);
	die(argv[0]);
	return 100;
}

/* Processes whose parent is `ppid`, other than `self`; how many are zombies. */
static int children_of(pid_t ppid, pid_t self, int *zombies)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	*zombies = 0;
	if (!d)
		die("/proc");
	while ((e = readdir(d))) {
		char path[64], buf[512], *p;
		long pid, parent;
		char state;
		int fd;
		ssize_t len;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		pid = atol(e->d_name);
		if (pid == self)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 1, " %c %ld", &state, &parent) != 2)
			continue;
		if (parent != ppid)
			continue;
		n++;
		if (state == 'Z')
			(*zombies)++;
	}
	closedir(d);
	return n;
}

/* Leave n orphans to the init, then wait until it has reaped them all. */
static int orphans(long n)
{
	pid_t mid, init = getppid();
	int status, left = 0, zombies = 0;
	long i, waited;
	mid = fork();
	if (mid < 0)
		die("fork");
	if (mid == 0) {
		for (i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0)
				_exit(0);
			if (p < 0)
				die("fork");
		}
		_exit(0); /* without waiting: its children go to the init */
	}
	waitpid(mid, &status, 0);
	for (waited = 0; waited < 20000; waited += 50) {
		left = children_of(init, getpid(), &zombies);
		if (left == 0)
			break;
		sleep_ms(50);
	}
	printf("orphans=%ld left=%d zombies=%d waited_ms=%ld\n", n, left, zombies, waited);
	return left == 0 ? 0 : 1;
}

/* Ignore USR1, run a grandchild that does not; report how it ended. */
static int group(void)
{
	int fds[2], status;
	char c;
	pid_t g;
	signal(SIGUSR1, SIG_IGN);
	if (pipe(fds) != 0)
		die("pipe");
	g = fork();
	if (g == 0) {
		signal(SIGUSR1, SIG_DFL);
		close(fds[0]);
		if (write(fds[1], "x", 1) != 1)
			_exit(100);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1)
		die("read");
	printf("ready\n");
	while (waitpid(g, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		printf("grandchild signal %d\n", WTERMSIG(status));
		return WTERMSIG(status) == SIGUSR1 ? 0 : 1;
	}
	printf("grandchild exit %d\n", WEXITSTATUS(status));
	return 1;
}


/* Move out of the process group the init made for us, into a grandchild's,
 * leaving ours empty; then wait to be killed. */
static int leavegroup(void)
{
	int fds[2];
	char c;
	pid_t g;
	if (pipe(fds) != 0)
		die("pipe");
	g = fork();
	if (g == 0) {
		/* It must not outlive the test, nor hold its output pipes. */
		int null = open("/dev/null", O_RDWR);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(30);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		setpgid(0, 0);
		if (write(fds[1], "x", 1) != 1)
			_exit(100);
		for (;;)
			pause();
	}
	if (read(fds[0], &c, 1) != 1)
		die("read");
	if (setpgid(0, g) != 0)
		die("setpgid");
	printf("ready %d\n", (int)getpid());
	for (;;)
		pause();
}

static int cwd(void)
{
	char here[4096], init[4096], path[64];
	ssize_t n;
	sleep_ms(settle_ms);
	if (!getcwd(here, sizeof here))
		die("getcwd");
	snprintf(path, sizeof path, "/proc/%d/cwd", (int)getppid());
	n = readlink(path, init, sizeof init - 1);
	if (n < 0)
		die(path);
	init[n] = 0;
	printf("cwd=%s initcwd=%s\n", here, init);
	return 0;
}

static int initfds(void)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int first = 1;
	sleep_ms(settle_ms);
	snprintf(path, sizeof path, "/proc/%d/fd", (int)getppid());
	d = opendir(path);
	if (!d)
		die(path);
	printf("fds=");
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		printf(first ? "%s" : ",%s", e->d_name);
		first = 0;
	}
	printf("\n");
	closedir(d);
	return 0;
}

static int withfd(int fd, char **argv)
{
	int f = open("/", O_RDONLY | O_DIRECTORY);
	if (f < 0 || dup2(f, fd) < 0)
		die("open /");
	execvp(argv[0], argv);
	die(argv[0]);
	return 100;
}

static int killself(int sig)
{
	sigset_t set;
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	return 99;
}

/* Start argv, then exit after ms: its parent is gone, for -p tests. */
static int spawn_and_die(long ms, char **argv)
{
	pid_t p = fork();
	if (p < 0)
		die("fork");
	if (p == 0) {
		execvp(argv[0], argv);
		die(argv[0]);
	}
	sleep_ms(ms);
	return 0;
}

static int ttywait(void)
{
	int i;
	for (i = 0; i < 500 && tcgetpgrp(0) != getpgrp(); i++)
		sleep_ms(10);
	printf(tcgetpgrp(0) == getpgrp() ? "foreground\n" : "background\n");
	sleep_ms(30000);
	return 0;
}

static int stdin_exit(void)
{
	char buf[32];
	if (!fgets(buf, sizeof buf, stdin))
		return 100;
	buf[strcspn(buf, "\n")] = 0;
	return (int)num(buf);
}

/* Run argv as a child (not exec'd in place) and return its exit code. */
static int run(char **argv)
{
	int status;
	pid_t p = fork();
	if (p == 0) {
		execvp(argv[0], argv);
		_exit(100);
	}
	if (p < 0 || waitpid(p, &status, 0) != p)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

/* Every exit code and a few killing signals through a nested init. */
static int exit_matrix(char *init, char *self)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGKILL, SIGTERM, SIGUSR1 };
	char arg[16];
	int n, bad = 0;
	unsigned i;
	for (n = 0; n < 256; n++) {
		char *argv[] = { init, "--", self, "exit", arg, NULL };
		int got;
		snprintf(arg, sizeof arg, "%d", n);
		got = run(argv);
		if (got != n) {
			printf("exit %d gave %d\n", n, got);
			bad++;
		}
	}
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		char *argv[] = { init, "--", self, "killself", arg, NULL };
		int got;
		snprintf(arg, sizeof arg, "%d", sigs[i]);
		got = run(argv);
		if (got != 128 + sigs[i]) {
			printf("signal %d gave %d\n", sigs[i], got);
			bad++;
		}
	}
	printf("matrix bad=%d\n", bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(cmd, "exit") && argc == 3)
		return (int)num(argv[2]);
	if (!strcmp(cmd, "killself") && argc == 3)
		return killself((int)num(argv[2]));
	if (!strcmp(cmd, "sigprint") && argc == 4)
		return sigprint(num(argv[2]), (int)num(argv[3]));
	if (!strcmp(cmd, "sigcount"))
		return sigcount();
	if (!strcmp(cmd, "mask"))
		return mask();
	if (!strcmp(cmd, "initstatus"))
		return initstatus();
	if (!strcmp(cmd, "procmask"))
		return procmask();
	if (!strcmp(cmd, "withmask") && argc > 4)
		return withmask(strtoull(argv[2], NULL, 16), strtoull(argv[3], NULL, 16), argv + 4);
	if (!strcmp(cmd, "orphans") && argc == 3)
		return orphans(num(argv[2]));
	if (!strcmp(cmd, "group"))
		return group();
	if (!strcmp(cmd, "leavegroup"))
		return leavegroup();
	if (!strcmp(cmd, "cwd"))
		return cwd();
	if (!strcmp(cmd, "initfds"))
		return initfds();
	if (!strcmp(cmd, "withfd") && argc > 3)
		return withfd((int)num(argv[2]), argv + 3);
	if (!strcmp(cmd, "sleep") && argc == 3) {
		printf("ready\n");
		sleep_ms(num(argv[2]));
		return 0;
	}
	if (!strcmp(cmd, "ignore-exit") && argc == 5) {
		signal((int)num(argv[2]), SIG_IGN);
		printf("ready\n");
		sleep_ms(num(argv[3]));
		return (int)num(argv[4]);
	}
	if (!strcmp(cmd, "spawn-and-die") && argc > 3)
		return spawn_and_die(num(argv[2]), argv + 3);
	if (!strcmp(cmd, "spawn-wait") && argc > 2) {
		int code = run(argv + 2);
		return code < 0 ? 100 : code;
	}
	if (!strcmp(cmd, "ttywait"))
		return ttywait();
	if (!strcmp(cmd, "stdin-exit"))
		return stdin_exit();
	if (!strcmp(cmd, "exit-matrix") && argc == 4)
		return exit_matrix(argv[2], argv[3]);
	fprintf(stderr, "helper: unknown command or arguments: %s\n", cmd);
	return 100;
}
