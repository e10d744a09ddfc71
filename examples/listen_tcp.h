/* listen_tcp: the listening socket of the host examples that accept their
 * clients themselves and hand each to the hub (hub_attach_fd()):
 * sqlite_broadcast.c and pg_notify.c.
 *
 * `spec` is "HOST:PORT", HOST an IPv4 address, PORT 0 for any free port.
 * The socket is non-blocking and close-on-exec, so an accept4() loop can
 * take every queued connection in one go; on success it prints
 * "NAME listening on http://HOST:PORT/" with the port bound (the line the
 * tests wait for) and flushes stdout. Returns the socket, or -1 (errno
 * says why, unless `spec` has no ':' or too long a HOST). */
#ifndef LISTEN_TCP_H
#define LISTEN_TCP_H

int listen_tcp(const char *spec, const char *name);

#endif
