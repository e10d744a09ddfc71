/* TLS options: a certificate that does not parse fails hub_new(), a TLS
 * client on a hub without one is refused. */
#include "tests.h"
#include "util.h"

void test_tls_options(void) {
  hub_options *o;
  hub_t *hub = NULL;
  CHECK(hub_options_new(&o) == 0);
  CHECK(hub_options_set_tls_files(o, "/nonexistent/cert.pem", "/x") ==
        HUB_ESYS);
  CHECK(hub_options_set_tls_pem(o, NULL, 0, "k", 1) == HUB_EINVAL);
  CHECK(hub_options_set_tls_pem(o, "not a cert", 10, "not a key", 9) == 0);
  CHECK(hub_new(&hub, o) == HUB_ETLS);
  CHECK(hub == NULL);
  hub_options_free(o);
  /* A TLS client on a hub without a certificate is refused up front, and
   * the caller keeps its fd. */
  hub = hub_make(1, 1, NULL);
  CHECK(hub);
  hub_client_options *co;
  hub_client_options_new(&co);
  CHECK(hub_client_options_set_tls(co, 2) == HUB_EINVAL);
  CHECK(hub_client_options_set_tls(co, 1) == 0);
  hub_client_id id;
  CHECK(hub_attach_fd(hub, 0, NULL, 0, co, &id) == HUB_EINVAL);
  hub_client_options_free(co);
  hub_free(hub);
}
