/* metrics.c -- the server's counters (see base.h): the ack latency
 * histogram's bounds, shared by whoever counts (net/docs.c) and whoever
 * shows them (api/metrics.c, in the Prometheus text format). */
#include "server/base/base.h"

const double srv_ack_bounds[SRV_ACK_BOUNDS] = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5};

void srv_metrics_ack(srv_metrics *m, double seconds)
{
    size_t i = 0;
    while (i < SRV_ACK_BOUNDS && seconds > srv_ack_bounds[i]) i++;
    m->ack_lat_buckets[i]++;
    m->ack_lat_count++;
    m->ack_lat_sum_s += seconds;
    m->acks++;
}
