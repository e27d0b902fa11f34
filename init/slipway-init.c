/*
 * slipway-init: the PID 1 that slipway puts into images.
 *
 * It starts one program, passes it the signals it receives, reaps every
 * process that ends up as its child, and exits with the program's status.
 * Everything it needs comes from the kernel: no /proc, /dev, /etc, shell or
 * dynamic loader. It is built static against musl, one binary per target.
 *
 * The design rests on one kernel rule: a signal sent to the init of a PID
 * namespace is dropped when its action is the default, unless the signal is
 * blocked, in which case it stays pending. So the init blocks every signal it
 * may receive and collects them with sigtimedwait(); it installs no handler.
 *
 * Messages go to stderr through write(2) only, so no stdio is linked in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SLIPWAY_INIT_VERSION
#define SLIPWAY_INIT_VERSION "0.1.0"
#endif

#ifndef PR_SET_CHILD_SUBREAPER
#define PR_SET_CHILD_SUBREAPER 36
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
/* statfs f_flags bits (the ST_* values of statvfs). */
#define MNT_NOSUID 2
#define MNT_NODEV 4
#define MNT_NOEXEC 8

enum { LVL_ERROR = 0, LVL_WARN = 1, LVL_INFO = 2, LVL_DEBUG = 3 };

static int verbosity = LVL_WARN;

/* ---- messages: a few strings and numbers, written in one write(2) ---- */

struct line {
	char buf[512];
	size_t len;
};

static void put(struct line *l, const char *s)
{
	while (*s && l->len < sizeof l->buf - 1)
		l->buf[l->len++] = *s++;
}

static void put_int(struct line *l, long v)
{
	char tmp[24];
	int i = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
	do {
		tmp[i++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[i++] = '-';
	while (i && l->len < sizeof l->buf - 1)
		l->buf[l->len++] = tmp[--i];
}

static void start(struct line *l, int level)
{
	static const char *const tags[] = { "error: ", "warning: ", "", "" };
	l->len = 0;
	put(l, "slipway-init: ");
	put(l, tags[level]);
}

static void finish(struct line *l)
{
	ssize_t r;
	l->buf[l->len++] = '\n';
	do
		r = write(2, l->buf, l->len);
	while (r < 0 && errno == EINTR);
}

/* level, then up to three strings with an optional number after each */
static void say(int level, const char *a, const char *b, const char *c)
{
	struct line l;
	if (level > verbosity)
		return;
	start(&l, level);
	put(&l, a);
	if (b)
		put(&l, b);
	if (c)
		put(&l, c);
	finish(&l);
}

static void say_num(int level, const char *a, long n, const char *b)
{
	struct line l;
	if (level > verbosity)
		return;
	start(&l, level);
	put(&l, a);
	put_int(&l, n);
	if (b)
		put(&l, b);
	finish(&l);
}

static const char *reason(int err)
{
	switch (err) {
	case ENOENT:
		return "not found";
	case EACCES:
		return "permission denied";
	case ENOEXEC:
		return "not an executable format";
	case ENOMEM:
		return "out of memory";
	case E2BIG:
		return "argument list too long";
	case ENOTDIR:
		return "a path component is not a directory";
	case ELOOP:
		return "too many symbolic links";
	default:
		return "exec failed";
	}
}

/* ---- options ---- */

static void usage(int fd)
{
	static const char text[] =
		"usage: slipway-init [options] [--] program [args...]\n"
		"\n"
		"Runs program as its only child, forwards every signal it receives to it,\n"
		"reaps orphaned processes and exits with the program's status\n"
		"(128+N if a signal N killed it).\n"
		"\n"
		"  -g          forward signals to the program's process group\n"
		"              (also SLIPWAY_INIT_GROUP=1)\n"
		"  -e CODE     exit 0 when the program exits with CODE (repeatable)\n"
		"  -p SIGNAL   have the kernel send SIGNAL to this init when its parent dies\n"
		"  -w          warn about each orphaned process reaped\n"
		"  -P          check that /proc is mounted nosuid,nodev,noexec\n"
		"              (also SLIPWAY_INIT_PROC_CHECK=1)\n"
		"  -v          more messages on stderr (repeatable; also SLIPWAY_INIT_VERBOSITY=N)\n"
		"  -h          this help\n"
		"  --version   the version\n";
	ssize_t r = write(fd, text, sizeof text - 1);
	(void)r;
}

static int parse_uint(const char *s, long max)
{
	long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	return (int)v;
}

static const struct {
	const char *name;
	int num;
} signames[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "ABRT", SIGABRT },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },
	{ "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "WINCH", SIGWINCH },
};

/* "TERM", "SIGTERM" or "15" */
static int parse_signal(const char *s)
{
	unsigned i;
	int n = parse_uint(s, 64);
	if (n > 0 && n < _NSIG)
		return n;
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof signames / sizeof signames[0]; i++)
		if (strcmp(s, signames[i].name) == 0)
			return signames[i].num;
	return -1;
}

struct opts {
	int group;
	int pdeathsig;
	int warn_orphans;
	int proc_check;
	unsigned char remap[256 / 8];
	char **argv;
};

static int env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

/* Returns -1 to go on, or an exit code. */
static int parse(int argc, char **argv, struct opts *o)
{
	int i;
	const char *v = getenv("SLIPWAY_INIT_VERBOSITY");
	if (v && parse_uint(v, 9) >= 0)
		verbosity = parse_uint(v, 9);
	o->group = env_flag("SLIPWAY_INIT_GROUP");
	o->proc_check = env_flag("SLIPWAY_INIT_PROC_CHECK");

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--version") == 0) {
			static const char ver[] = "slipway-init " SLIPWAY_INIT_VERSION "\n";
			ssize_t r = write(1, ver, sizeof ver - 1);
			(void)r;
			return 0;
		}
		if (strcmp(a, "--help") == 0) {
			usage(1);
			return 0;
		}
		if (a[0] != '-' || a[1] == '\0')
			break; /* the program: parsing stops here */
		for (a++; *a; a++) {
			const char *val;
			switch (*a) {
			case 'g':
				o->group = 1;
				continue;
			case 'w':
				o->warn_orphans = 1;
				continue;
			case 'P':
				o->proc_check = 1;
				continue;
			case 'v':
				verbosity++;
				continue;
			case 'h':
				usage(1);
				return 0;
			case 'e':
			case 'p':
				break;
			default: {
				char opt[2] = { *a, 0 };
				say(LVL_ERROR, "unknown option -", opt, " (see -h)");
				return 1;
			}
			}
			/* options with a value: -e143, -e 143 */
			val = a[1] ? a + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val) {
				char opt[2] = { *a, 0 };
				say(LVL_ERROR, "option -", opt, " needs a value");
				return 1;
			}
			if (*a == 'e') {
				int code = parse_uint(val, 255);
				if (code < 0) {
					say(LVL_ERROR, "-e wants an exit code 0-255, not ", val, NULL);
					return 1;
				}
				o->remap[code / 8] |= (unsigned char)(1u << (code % 8));
			} else {
				int sig = parse_signal(val);
				if (sig < 0) {
					say(LVL_ERROR, "-p wants a signal name or number, not ", val, NULL);
					return 1;
				}
				o->pdeathsig = sig;
			}
			break;
		}
	}
	if (i >= argc) {
		say(LVL_ERROR, "no program to run", NULL, NULL);
		usage(2);
		return 1;
	}
	o->argv = argv + i;
	return -1;
}

/* ---- the parts around fork ---- */

/* Signals that report a fault in this very process; blocking them would
 * turn a crash into a hang or an undefined state. */
static const int fault_signals[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS };

/* Dispositions the init changes for itself and gives back to the child:
 * the fault signals first (see on_fault), then the job-control ones. */
static const int changed[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS,
			       SIGTTIN, SIGTTOU, SIGCHLD };
#define N_FAULT (sizeof fault_signals / sizeof fault_signals[0])

/* Read by on_fault; set once before the handlers can matter. */
static volatile pid_t forward_to;

/*
 * The fault signals stay unblocked so that a real fault in the init kills
 * it. When one is sent by another process (kill, sigqueue, tgkill) it is
 * no fault of ours: pass it on like any other signal. A real fault (or our
 * own abort) goes back to the default action and happens again.
 */
static void on_fault(int sig, siginfo_t *info, void *ctx)
{
	pid_t to = forward_to;
	int saved = errno;
	(void)ctx;
	if (info && info->si_code <= 0 && info->si_pid != getpid()) {
		if (to)
			kill(to, sig);
		errno = saved;
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

struct saved {
	sigset_t mask;
	struct sigaction act[sizeof changed / sizeof changed[0]];
};

static void proc_check(void)
{
	struct statfs st;
	if (statfs("/proc", &st) != 0 || (unsigned long)st.f_type != PROC_SUPER_MAGIC) {
		say(LVL_WARN, "/proc is not mounted: tools in the image that read it will fail", NULL,
		    NULL);
		return;
	}
	if (!(st.f_flags & MNT_NOSUID))
		say(LVL_WARN, "/proc is mounted without nosuid", NULL, NULL);
	if (!(st.f_flags & MNT_NODEV))
		say(LVL_WARN, "/proc is mounted without nodev", NULL, NULL);
	if (!(st.f_flags & MNT_NOEXEC))
		say(LVL_WARN, "/proc is mounted without noexec", NULL, NULL);
}

static void close_inherited(void)
{
	struct rlimit rl;
	long fd, max = 1024;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0)
		return;
#endif
	/* kernels before 5.9: close one by one up to the limit */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = (long)rl.rlim_cur;
	if (max > 1 << 20)
		max = 1 << 20;
	for (fd = 3; fd < max; fd++)
		close((int)fd);
}

static void run_child(char **argv, const struct saved *orig)
{
	unsigned i;
	int err;
	/* Its own process group, so group mode reaches it and its children,
	 * and a terminal's job control sees it as the foreground job. SIGTTOU
	 * is still ignored and blocked here, so tcsetpgrp cannot stop us. */
	setpgid(0, 0);
	if (tcsetpgrp(0, getpid()) != 0 && errno != ENOTTY && errno != ENXIO && errno != EBADF &&
	    errno != EINVAL)
		say(LVL_WARN, "cannot give the terminal to the program", NULL, NULL);
	for (i = 0; i < sizeof changed / sizeof changed[0]; i++)
		sigaction(changed[i], &orig->act[i], NULL);
	sigprocmask(SIG_SETMASK, &orig->mask, NULL);
	execvp(argv[0], argv);
	err = errno;
	{
		struct line l;
		start(&l, LVL_ERROR);
		put(&l, "cannot run ");
		put(&l, argv[0]);
		put(&l, ": ");
		put(&l, reason(err));
		finish(&l);
	}
	_exit(err == ENOENT ? 127 : err == EACCES ? 126 : 1);
}

/* ---- the loop ---- */

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct saved orig;
	struct sigaction act;
	sigset_t wait_set;
	pid_t child, parent, self;
	int r, status = 0, have_status = 0, missed = 0;
	unsigned i;

	memset(&o, 0, sizeof o);
	r = parse(argc, argv, &o);
	if (r >= 0)
		return r;

	/* Block everything but the faults; remember what we inherited. */
	sigfillset(&wait_set);
	for (i = 0; i < sizeof fault_signals / sizeof fault_signals[0]; i++)
		sigdelset(&wait_set, fault_signals[i]);
	sigprocmask(SIG_SETMASK, &wait_set, &orig.mask);

	/* Stay out of the way of terminal job control; take SIGCHLD back to
	 * the default so an inherited SIG_IGN cannot make the kernel reap the
	 * program before we read its status. */
	for (i = 0; i < sizeof changed / sizeof changed[0]; i++) {
		memset(&act, 0, sizeof act);
		sigfillset(&act.sa_mask);
		if (i < N_FAULT) {
			act.sa_sigaction = on_fault;
			act.sa_flags = SA_SIGINFO | SA_RESTART;
		} else {
			act.sa_handler = changed[i] == SIGCHLD ? SIG_DFL : SIG_IGN;
		}
		sigaction(changed[i], &act, &orig.act[i]);
	}

	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
		say(LVL_WARN,
		    "not PID 1 and cannot become a child subreaper: orphaned processes will not be reaped",
		    NULL, NULL);

	if (o.pdeathsig) {
		parent = getppid();
		if (prctl(PR_SET_PDEATHSIG, o.pdeathsig, 0, 0, 0) != 0)
			say(LVL_WARN, "cannot set the parent-death signal", NULL, NULL);
		else if (getppid() != parent)
			missed = o.pdeathsig; /* the parent died before we asked */
	}

	if (o.proc_check)
		proc_check();

	child = fork();
	if (child < 0) {
		say(LVL_ERROR, "cannot fork", NULL, NULL);
		return 1;
	}
	if (child == 0)
		run_child(o.argv, &orig);

	/* Also from this side, so a signal forwarded to the group right away
	 * finds it; fails harmlessly once the child has exec'd. */
	setpgid(child, child);
	forward_to = o.group ? -child : child;
	if (chdir("/") != 0)
		say(LVL_WARN, "cannot change directory to /", NULL, NULL);
	close_inherited();
	say_num(LVL_INFO, "started pid ", child, NULL);
	if (missed)
		kill(o.group ? -child : child, missed);
	self = getpid();

	for (;;) {
		struct timespec one_second = { 1, 0 };
		siginfo_t info;
		pid_t pid;
		int sig = sigtimedwait(&wait_set, &info, &one_second);

		/* A signal the kernel raised against the init itself, such as
		 * SIGPIPE from writing to a closed stderr, is about the init, not
		 * the program: passing it on could kill the program. */
		if (sig > 0 && info.si_code == SI_USER && info.si_pid == self)
			say_num(LVL_DEBUG, "dropped own signal ", sig, NULL);
		else if (sig > 0 && sig != SIGCHLD) {
			if (have_status) {
				/* the program is gone; its pid may already be someone else's */
				say_num(LVL_DEBUG, "ignored signal ", sig, " after the program exited");
			} else if (kill(o.group ? -child : child, sig) != 0) {
				if (errno == ESRCH)
					say_num(LVL_WARN, "could not forward signal ", sig,
						o.group ? ": no process is left in the program's group"
							: ": the program is gone");
				else
					say_num(LVL_WARN, "could not forward signal ", sig, NULL);
			} else {
				say_num(LVL_DEBUG, "forwarded signal ", sig, NULL);
			}
		}

		/* Reap on every wake-up: SIGCHLD coalesces, so one may stand for many. */
		for (;;) {
			int st;
			pid = waitpid(-1, &st, WNOHANG);
			if (pid > 0) {
				if (pid == child && !have_status) {
					status = st;
					have_status = 1;
					forward_to = 0; /* its pid may be reused from now on */
					say_num(LVL_INFO, "program exited: status ", exit_code(st), NULL);
				} else if (o.warn_orphans) {
					say_num(LVL_WARN, "reaped orphaned process ", pid, NULL);
				} else {
					say_num(LVL_DEBUG, "reaped orphaned process ", pid, NULL);
				}
				continue;
			}
			if (pid < 0 && errno == EINTR)
				continue;
			break; /* 0: children left but none finished; ECHILD: none left */
		}

		if (have_status) {
			int code = exit_code(status);
			if (o.remap[code / 8] & (1u << (code % 8)))
				code = 0;
			return code;
		}
	}
}
