/*
 * One side of an RMR speed test on librmr called from C (no Python): the native baseline rows of
 * benchmarks/protocols.py, which compiles this file against the librmr that .ci/build-librmr built.
 *
 *   rmr_c_peer recv PORT COUNT           prints {"ready": true}, then {"received": n, "rate": r}
 *   rmr_c_peer send PORT TARGET COUNT SIZE  prints {"sent": n, "rate": r}, then waits to be killed
 *
 * The receiver's rate runs from its first to its last message, as the Python peers' do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <rmr.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int do_recv(char* port, long count) {
	void* ctx = rmr_init(port, 65536, RMRFL_NONE);
	rmr_mbuf_t* msg = NULL;
	long got = 0;
	double first = 0, last = 0;
	if (ctx == NULL) { fprintf(stderr, "rmr_init failed\n"); return 1; }
	printf("{\"ready\": true}\n");
	fflush(stdout);
	while (got < count) {
		msg = rmr_torcv_msg(ctx, msg, 5000);
		if (msg == NULL || msg->state != RMR_OK) {
			if (got > 0 && (msg == NULL || msg->state == RMR_ERR_TIMEOUT)) break;
			continue;
		}
		if (got == 0) first = now();
		got++;
		last = now();
	}
	printf("{\"received\": %ld, \"rate\": %.1f}\n", got, last > first ? (got - 1) / (last - first) : 0.0);
	fflush(stdout);
	return 0;
}

static int do_send(char* port, char* target, long count, int size) {
	void* ctx = rmr_init(port, 65536, RMRFL_NONE);
	rmr_whid_t whid;
	rmr_mbuf_t* msg;
	double start;
	long i;
	if (ctx == NULL) { fprintf(stderr, "rmr_init failed\n"); return 1; }
	whid = rmr_wh_open(ctx, target);
	if (whid < 0) { fprintf(stderr, "rmr_wh_open %s failed\n", target); return 1; }
	msg = rmr_alloc_msg(ctx, size);
	memset(msg->payload, 0x5a, size);
	start = now();
	for (i = 0; i < count; i++) {
		msg->mtype = 12050;
		msg->len = size;
		msg = rmr_wh_send_msg(ctx, whid, msg);
		while (msg->state == RMR_ERR_RETRY) msg = rmr_wh_send_msg(ctx, whid, msg);
	}
	printf("{\"sent\": %ld, \"rate\": %.1f}\n", count, count / (now() - start));
	fflush(stdout);
	sleep(60); /* keep the connection until the receiver is done; the caller ends this process */
	return 0;
}

int main(int argc, char** argv) {
	if (argc == 4 && strcmp(argv[1], "recv") == 0) return do_recv(argv[2], atol(argv[3]));
	if (argc == 6 && strcmp(argv[1], "send") == 0) return do_send(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
	fprintf(stderr, "usage: rmr_c_peer recv PORT COUNT | send PORT TARGET COUNT SIZE\n");
	return 2;
}
