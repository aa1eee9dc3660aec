/*
 * swarm-node: see swarm-node.h. `ip netns exec` is not used to start the
 * node's dockerd: it gives the command a new mount namespace with a fresh
 * /sys, where the cgroup hierarchy is not mounted and dockerd refuses to
 * start ("Devices cgroup isn't mounted"). The child enters the network
 * namespace with setns and takes a UTS namespace of its own (so Swarm sees
 * a second host name), and nothing else.
 */
#include "swarm-node.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int ip_run(const char *arg0, ...)
{
	struct bg_strv argv;
	va_list ap;
	bg_strv_init(&argv);
	bg_strv_push(&argv, "ip");
	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		bg_strv_push(&argv, a);
	}
	va_end(ap);
	struct th_run r;
	th_run_argv(argv.v, NULL, &r);
	int st = r.status;
	if (st != 0) {
		th_print_error("# %s %s %s: %s", argv.v[0], argv.v[1], argv.v[2], r.err);
	}
	th_run_release(&r);
	bg_strv_release(&argv);
	return st;
}

/* A /30 no interface of the host has: 10.250.X.0 with X from the pid. */
static int subnet_pick(void)
{
	struct th_run r;
	char *argv[] = {"ip", "-o", "-4", "addr", NULL};
	th_run_argv(argv, NULL, &r);
	int x = -1;
	for (int i = 0; i < 250 && x < 0; i++) {
		int c = (int)((getpid() + i) % 250) + 1;
		char pre[24];
		snprintf(pre, sizeof(pre), " 10.250.%d.", c);
		if (!strstr(r.out, pre)) {
			x = c;
		}
	}
	th_run_release(&r);
	return x;
}

static int net_create(struct swn *n)
{
	char *peer = bg_xasprintf("%.13sb", n->veth_host);
	char *hcidr = bg_xasprintf("%s/30", n->host_ip), *ncidr = bg_xasprintf("%s/30", n->node_ip);
	int err = ip_run("netns", "add", n->ns, NULL) ||
			ip_run("link", "add", n->veth_host, "type", "veth", "peer", "name", peer,
					NULL) ||
			ip_run("link", "set", peer, "netns", n->ns, NULL) ||
			ip_run("addr", "add", hcidr, "dev", n->veth_host, NULL) ||
			ip_run("link", "set", n->veth_host, "up", NULL) ||
			ip_run("-n", n->ns, "addr", "add", ncidr, "dev", peer, NULL) ||
			ip_run("-n", n->ns, "link", "set", peer, "up", NULL) ||
			ip_run("-n", n->ns, "link", "set", "lo", "up", NULL);
	free(peer);
	free(hcidr);
	free(ncidr);
	return err ? -1 : 0;
}

/* The child: into the namespace, a host name of its own, then dockerd. */
static void dockerd_exec(struct swn *n, char *const argv[])
{
	char *nspath = bg_xasprintf("/run/netns/%s", n->ns);
	char *log = bg_xasprintf("%s/dockerd.log", n->dir);
	int fd = open(nspath, O_RDONLY | O_CLOEXEC);
	int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || lfd < 0 || setns(fd, CLONE_NEWNET) != 0 || unshare(CLONE_NEWUTS) != 0 ||
			sethostname(n->hostname, strlen(n->hostname)) != 0) {
		_exit(126);
	}
	dup2(lfd, 1);
	dup2(lfd, 2);
	setsid();
	setenv("DOCKER_SERVICE_PREFER_OFFLINE_IMAGE", "1", 1);
	execvp(argv[0], argv);
	_exit(127);
}

static bool dockerd_up(struct swn *n, int ms)
{
	for (int waited = 0; waited < ms; waited += 250) {
		struct th_run r;
		char *argv[] = {"curl", "-sS", "--max-time", "2", "--unix-socket", n->sock,
				"http://localhost/_ping", NULL};
		th_run_argv(argv, NULL, &r);
		bool up = r.status == 0 && strcmp(r.out, "OK") == 0;
		th_run_release(&r);
		if (up) {
			return true;
		}
		if (n->pid > 0 && waitpid(n->pid, NULL, WNOHANG) == n->pid) {
			n->pid = 0;
			return false;
		}
		usleep(250 * 1000);
	}
	return false;
}

static int dockerd_start(struct swn *n)
{
	char *conf = bg_xasprintf("%s/daemon.json", n->dir);
	char *data = bg_xasprintf("%s/data", n->dir), *exec = bg_xasprintf("%s/exec", n->dir);
	char *pidf = bg_xasprintf("%s/dockerd.pid", n->dir);
	char *host = bg_xasprintf("unix://%s", n->sock);
	th_write(n->dir, "daemon.json", "{}\n"); /* not the machine's /etc/docker one */
	/* No default bridge, no iptables: the namespace is the node's whole
	 * network, and the host's tables stay the main engine's. */
	char *argv[] = {"dockerd", "--config-file", conf, "--data-root", data, "--exec-root", exec,
			"--pidfile", pidf, "-H", host, "--bridge=none", "--iptables=false",
			"--ip6tables=false", "--cgroup-parent", n->cgroup, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		dockerd_exec(n, argv);
	}
	n->pid = pid > 0 ? pid : 0;
	free(conf);
	free(data);
	free(exec);
	free(pidf);
	free(host);
	if (pid < 0 || !dockerd_up(n, 60000)) {
		char *log = bg_xasprintf("%s/dockerd.log", n->dir);
		char *text = th_read(log);
		const char *tail = text && strlen(text) > 1500 ? text + strlen(text) - 1500 : text;
		th_print_error("# the second dockerd did not answer; its log ends:\n%s\n",
				tail ? tail : "(none)");
		free(text);
		free(log);
		return -1;
	}
	return 0;
}

int swn_start(struct swn *n, const char *tag)
{
	memset(n, 0, sizeof(*n));
	const char *id = th_run_id();
	int x = subnet_pick();
	n->ns = bg_xasprintf("bg-%s-%s", tag, id);
	n->veth_host = bg_xasprintf("bg%.10sa", id + 1);
	n->hostname = bg_xasprintf("bg-%s-%s", tag, id);
	n->cgroup = bg_xasprintf("/bg-%s-%s", tag, id);
	n->dir = th_tmpdir("swn");
	n->sock = bg_xasprintf("%s/docker.sock", n->dir);
	if (x < 0) {
		th_print_error("# no free 10.250.X.0/30 for the veth pair\n");
		return -1;
	}
	n->host_ip = bg_xasprintf("10.250.%d.1", x);
	n->node_ip = bg_xasprintf("10.250.%d.2", x);
	if (chmod(n->dir, 0700) != 0 || net_create(n) != 0) {
		return -1;
	}
	return dockerd_start(n);
}

int swn_docker(struct swn *n, struct th_run *r, const char *arg0, ...)
{
	struct bg_strv argv;
	va_list ap;
	char *host = bg_xasprintf("unix://%s", n->sock);
	bg_strv_init(&argv);
	bg_strv_push(&argv, "docker");
	bg_strv_push(&argv, "-H");
	bg_strv_push(&argv, host);
	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		bg_strv_push(&argv, a);
	}
	va_end(ap);
	char *env[] = {"NO_COLOR=1", NULL};
	th_run_argv(argv.v, env, r);
	bg_strv_release(&argv);
	free(host);
	return r->status;
}

int swn_load_images(struct swn *n, const char *const *images)
{
	char *tar = bg_xasprintf("%s/images.tar", n->dir);
	struct bg_strv argv;
	struct th_run r;
	bg_strv_init(&argv);
	bg_strv_push(&argv, "docker");
	bg_strv_push(&argv, "save");
	bg_strv_push(&argv, "-o");
	bg_strv_push(&argv, tar);
	for (size_t i = 0; images[i]; i++) {
		bg_strv_push(&argv, images[i]);
	}
	th_run_argv(argv.v, NULL, &r);
	int st = r.status;
	if (st != 0) {
		th_print_error("# docker save: %s", r.err);
	}
	th_run_release(&r);
	if (st == 0) {
		st = swn_docker(n, &r, "load", "-q", "-i", tar, NULL);
		if (st != 0) {
			th_print_error("# docker load into the node: %s", r.err);
		}
		th_run_release(&r);
	}
	unlink(tar);
	bg_strv_release(&argv);
	free(tar);
	return st;
}

int swn_swarm_form(struct swn *n, char **node_id)
{
	struct th_run r;
	*node_id = NULL;
	th_docker(&r, "info", "--format", "{{.Swarm.LocalNodeState}}", NULL);
	bool inactive = strncmp(r.out, "inactive", 8) == 0;
	th_run_release(&r);
	if (!inactive) {
		th_print_error("# the engine is already in a swarm: not the test's to change\n");
		return -1;
	}
	char *listen = bg_xasprintf("%s:2377", n->host_ip);
	char *nlisten = bg_xasprintf("%s:2377", n->node_ip);
	int st = th_docker(&r, "swarm", "init", "--advertise-addr", n->host_ip, "--listen-addr",
			listen, NULL);
	th_run_release(&r);
	if (st == 0) {
		st = th_docker(&r, "swarm", "join-token", "-q", "worker", NULL);
		char *tok = bg_xstrndup(r.out, strcspn(r.out, "\n"));
		th_run_release(&r);
		st = st ? st : swn_docker(n, &r, "swarm", "join", "--token", tok, "--advertise-addr",
				n->node_ip, "--listen-addr", nlisten, listen, NULL);
		if (st != 0) {
			th_print_error("# swarm join: %s", r.err);
		}
		th_run_release(&r);
		free(tok);
	}
	if (st == 0) {
		st = swn_docker(n, &r, "info", "--format", "{{.Swarm.NodeID}}", NULL);
		*node_id = bg_xstrndup(r.out, strcspn(r.out, "\n"));
		th_run_release(&r);
	}
	free(listen);
	free(nlisten);
	return st ? -1 : 0;
}

void swn_swarm_leave(struct swn *n)
{
	struct th_run r;
	if (n->pid > 0) {
		swn_docker(n, &r, "swarm", "leave", "--force", NULL);
		th_run_release(&r);
	}
	th_docker(&r, "swarm", "leave", "--force", NULL);
	th_run_release(&r);
}

/* Detach whatever dockerd left mounted under dir (deepest first), so that
 * removing the directory cannot reach into a mount. */
static void mounts_detach(const char *dir)
{
	char *text = th_read("/proc/self/mountinfo");
	struct bg_strv found;
	bg_strv_init(&found);
	size_t len = strlen(dir);
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char mp[4096];
		if (sscanf(l, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, dir, len) == 0 &&
				(mp[len] == '/' || mp[len] == 0)) {
			bg_strv_push(&found, mp);
		}
	}
	for (size_t i = found.n; i > 0; i--) {
		umount2(found.v[i - 1], MNT_DETACH);
	}
	bg_strv_release(&found);
	free(text);
}

static void dockerd_stop(struct swn *n)
{
	if (n->pid <= 0) {
		return;
	}
	kill(n->pid, SIGTERM);
	for (int i = 0; i < 300; i++) { /* dockerd stops its containers: up to 30 s */
		if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
			n->pid = 0;
			return;
		}
		usleep(100 * 1000);
	}
	kill(-n->pid, SIGKILL); /* its session: dockerd, its containerd and shims */
	waitpid(n->pid, NULL, 0);
	n->pid = 0;
}

/* The cgroup parent dockerd made in each v1 hierarchy (or the v2 tree). */
static void cgroups_remove(const char *parent)
{
	static const char *const ctl[] = {"", "blkio", "cpu,cpuacct", "cpuset", "devices",
			"freezer", "hugetlb", "memory", "net_cls,net_prio", "perf_event", "pids",
			"systemd", "rdma", "misc", NULL};
	for (size_t i = 0; ctl[i]; i++) {
		char *p = bg_xasprintf("/sys/fs/cgroup/%s%s", ctl[i], parent);
		rmdir(p);
		free(p);
	}
}

void swn_stop(struct swn *n)
{
	if (!n || !n->dir) {
		return;
	}
	dockerd_stop(n);
	mounts_detach(n->dir);
	if (n->ns) {
		struct th_run r;
		char *argv[] = {"ip", "netns", "del", n->ns, NULL};
		th_run_argv(argv, NULL, &r); /* the veth pair goes with it */
		th_run_release(&r);
	}
	if (n->veth_host) { /* a start that stopped before moving its peer */
		struct th_run r;
		char *argv[] = {"ip", "link", "del", n->veth_host, NULL};
		th_run_argv(argv, NULL, &r);
		th_run_release(&r);
	}
	if (n->cgroup) {
		cgroups_remove(n->cgroup);
	}
	struct th_run r;
	char *argv[] = {"rm", "-rf", "--one-file-system", "--", n->dir, NULL};
	th_run_argv(argv, NULL, &r);
	th_run_release(&r);
	free(n->ns);
	free(n->veth_host);
	free(n->host_ip);
	free(n->node_ip);
	free(n->dir);
	free(n->sock);
	free(n->hostname);
	free(n->cgroup);
	memset(n, 0, sizeof(*n));
}
