/* Built against the installed tree with `pkg-config fanhub-nats` only:
 * the header, the library and its dependencies resolve, options are
 * checked, and attaching to a port nothing listens on fails cleanly. */
#include <fanhub_nats.h>
#include <stdio.h>

int main(void) {
  hub_t *hub;
  hub_nats_options *no;
  hub_nats *n = NULL;
  if (hub_new(&hub, NULL) || hub_nats_options_new(&no))
    return 1;
  int bad = hub_nats_options_set_jetstream(no, "no.dots") != HUB_EINVAL ||
            hub_nats_options_set_subject_prefix(no, "a..b") != HUB_EINVAL ||
            hub_nats_options_set_url(no, "nats://127.0.0.1:1") != 0;
  int rv = hub_nats_attach(hub, no, &n);
  hub_nats_options_free(no);
  /* The failed attach left no relay behind: the hub starts and
   * broadcasts for itself. */
  int started = hub_start(hub) == 0 && hub_broadcast(hub, "t", "x", 1, 0) > 0;
  hub_stop(hub, 0);
  hub_free(hub);
  if (bad || rv != HUB_ESYS || n || !started) {
    fprintf(stderr, "bad=%d attach=%s started=%d\n", bad, hub_err_name(rv),
            started);
    return 1;
  }
  puts("fanhub-nats: ok");
  return 0;
}
