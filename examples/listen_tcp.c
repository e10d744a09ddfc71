/* listen_tcp: see listen_tcp.h. */
#include "listen_tcp.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int listen_tcp(const char *spec, const char *name) {
  char host[64];
  const char *colon = strrchr(spec, ':');
  struct sockaddr_in sa = {.sin_family = AF_INET};
  if (!colon || (size_t)(colon - spec) >= sizeof(host))
    return -1;
  memcpy(host, spec, (size_t)(colon - spec));
  host[colon - spec] = '\0';
  sa.sin_port = htons((uint16_t)atoi(colon + 1));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  socklen_t sl = sizeof(sa);
  if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
      bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128) ||
      getsockname(fd, (struct sockaddr *)&sa, &sl))
    return -1;
  printf("%s listening on http://%s:%u/\n", name, host, ntohs(sa.sin_port));
  fflush(stdout);
  return fd;
}
