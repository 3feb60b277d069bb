// User-space push + pop on a BPF queue map through libbpf: the C side of
// bench/queue_vs_libbpf.sh. Prints the mean nanoseconds per push+pop pair.
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <linux/bpf.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int fd = bpf_map_create(BPF_MAP_TYPE_QUEUE, "bench_q", 0, sizeof(__u32), 1024, NULL);
    if (fd < 0) { perror("bpf_map_create"); return 1; }
    struct timespec a, b;
    __u32 out = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        __u32 v = (__u32)i;
        if (bpf_map_update_elem(fd, NULL, &v, BPF_ANY)) { perror("push"); return 1; }
        if (bpf_map_lookup_and_delete_elem(fd, NULL, &out)) { perror("pop"); return 1; }
        if (out != v) { fprintf(stderr, "wrong value\n"); return 1; }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.1f\n", ns / n);
    return 0;
}
