/* pg_notify: PostgreSQL LISTEN/NOTIFY to fanhub, with libpq.
 *
 *   pg_notify --conninfo 'host=127.0.0.1 port=5432 dbname=app'
 *             --channel orders [--channel ...] [--listen 127.0.0.1:0]
 *
 * Every notification on a channel is broadcast on the topic of the same
 * name, its payload as the data: `NOTIFY orders, 'shipped 42'` (or
 * SELECT pg_notify('orders', '...')) reaches /sse?topic=orders and
 * /ws?topic=orders clients (any GET on the listener streams).
 *
 * PostgreSQL already does the transactional part: a NOTIFY is delivered
 * when its transaction commits, never if it rolls back. The host only has
 * to wait on the connection's socket: poll() PQsocket(), PQconsumeInput(),
 * then drain PQnotifies(). hub_broadcast() never blocks, so this loop can
 * also accept the hub's clients. Channel names are case-sensitive (LISTEN
 * is sent quoted); notifications sent while the connection is down are
 * lost: LISTEN/NOTIFY keeps no backlog. The connects are blocking libpq
 * calls, for brevity (PQconnectStart/PQconnectPoll would not block). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fanhub.h>
#include <libpq-fe.h>

#include "listen_tcp.h"

#define MAX_CHANNELS 32

static const char *channels[MAX_CHANNELS];
static int nchannels;

/* Connects and LISTENs on every channel; NULL (and a message) on failure.
 * The connection is then non-blocking. */
static PGconn *pg_connect(const char *conninfo) {
  PGconn *pg = PQconnectdb(conninfo);
  for (int i = 0; PQstatus(pg) == CONNECTION_OK && i < nchannels; i++) {
    char sql[600];
    char *id = PQescapeIdentifier(pg, channels[i], strlen(channels[i]));
    snprintf(sql, sizeof(sql), "LISTEN %s", id ? id : "\"\"");
    PQfreemem(id);
    PGresult *res = PQexec(pg, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok)
      break;
    if (i == nchannels - 1 && PQsetnonblocking(pg, 1) == 0) {
      fprintf(stderr, "pg_notify: listening on %d channel(s)\n", nchannels);
      return pg;
    }
  }
  fprintf(stderr, "pg_notify: %s", PQerrorMessage(pg));
  PQfinish(pg);
  return NULL;
}

/* Broadcasts every notification libpq has read. */
static void drain(hub_t *hub, PGconn *pg) {
  PGnotify *n;
  while ((n = PQnotifies(pg))) {
    int64_t seq = hub_broadcast(hub, n->relname, n->extra, strlen(n->extra), 0);
    if (seq < 0) /* e.g. a channel name that is no valid topic */
      fprintf(stderr, "pg_notify: %s: %s\n", n->relname,
              hub_strerror((int)seq));
    PQfreemem(n);
  }
}

int main(int argc, char **argv) {
  const char *conninfo = NULL, *spec = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--conninfo") == 0)
      conninfo = argv[i + 1];
    else if (strcmp(argv[i], "--listen") == 0)
      spec = argv[i + 1];
    else if (strcmp(argv[i], "--channel") == 0 && nchannels < MAX_CHANNELS)
      channels[nchannels++] = argv[i + 1];
  }
  if (!conninfo || !nchannels) {
    fputs("usage: pg_notify --conninfo STR --channel NAME [--channel ...] "
          "[--listen HOST:PORT]\n",
          stderr);
    return 2;
  }
  /* SIGINT/SIGTERM arrive on a signalfd in the loop below. */
  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGINT);
  sigaddset(&ss, SIGTERM);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sigfd = signalfd(-1, &ss, SFD_CLOEXEC);

  hub_t *hub = NULL;
  int rv = hub_new(&hub, NULL);
  if (rv || (rv = hub_start(hub))) {
    fprintf(stderr, "fanhub: %s\n", hub_strerror(rv));
    return 1;
  }
  PGconn *pg = pg_connect(conninfo);
  if (pg)
    drain(hub, pg); /* any that came with the LISTEN replies */
  int lfd = listen_tcp(spec, "pg_notify");
  if (!pg || lfd < 0 || sigfd < 0) {
    if (lfd < 0)
      fprintf(stderr, "cannot listen on %s: %s\n", spec, strerror(errno));
    hub_free(hub);
    PQfinish(pg);
    return 1;
  }

  /* Out of descriptors or memory, accept4() leaves the connection queued
   * and the listener readable: polled again at once, it would spin until a
   * client leaves. Instead it sits out the next poll(), 100 ms at most. */
  int pause = 0;
  for (int running = 1; running;) {
    struct pollfd pf[3] = {{.fd = pause ? -1 : lfd, .events = POLLIN},
                           {.fd = sigfd, .events = POLLIN},
                           {.fd = pg ? PQsocket(pg) : -1, .events = POLLIN}};
    /* While the connection is down, try again every second. */
    if (poll(pf, 3, pause ? 100 : pg ? -1 : 1000) < 0 && errno != EINTR)
      break;
    int fd;
    hub_client_id id;
    while (pf[0].revents &&
           (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
      hub_attach_fd(hub, fd, NULL, 0, NULL, &id); /* the hub owns fd */
    pause = pf[0].revents && (errno == EMFILE || errno == ENFILE ||
                              errno == ENOBUFS || errno == ENOMEM);
    if (pf[1].revents)
      running = 0;
    if (!pg) {
      if ((pg = pg_connect(conninfo)))
        drain(hub, pg);
    } else if (pf[2].revents) {
      /* Read what arrived, then hand out every complete notification. */
      if (PQconsumeInput(pg) && PQstatus(pg) == CONNECTION_OK) {
        drain(hub, pg);
      } else {
        fprintf(stderr, "pg_notify: connection lost: %s", PQerrorMessage(pg));
        drain(hub, pg); /* those read before the loss */
        PQfinish(pg);
        pg = NULL;
      }
    }
  }
  fputs("pg_notify: shutting down\n", stderr);
  close(lfd);
  hub_stop(hub, 2000);
  hub_free(hub);
  PQfinish(pg);
  return 0;
}
