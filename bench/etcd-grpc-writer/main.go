// etcd-grpc-writer: drives an etcd group through its native gRPC API (clientv3), with the loads
// and output of cluster-bench: blocking puts of 100-byte values, each client writing its own keys
// one at a time, clients sharing --conns connections round-robin as etcd's own `benchmark put`
// does. Prints, per load, writes/s, p50 and p99 latency (ms) and the attempts that failed; exits 1
// when a load has no acknowledged write.
//   etcd-grpc-writer --endpoints 127.0.0.1:2379,... [--seconds 5] [--clients 1,16,64,256]
//                    [--clients-per-conn 10]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

func load(conns []*clientv3.Client, clients int, seconds float64) (int, int64) {
	value := strings.Repeat("v", 100)
	lat := make([][]float64, clients)
	var failed int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for t := 0; t < clients; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			c := conns[t%len(conns)]
			for k := 0; !stop.Load(); k++ {
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.Put(ctx, "c"+strconv.Itoa(t)+"-"+strconv.Itoa(k), value)
				cancel()
				if err != nil {
					atomic.AddInt64(&failed, 1)
					time.Sleep(time.Millisecond)
					continue
				}
				lat[t] = append(lat[t], float64(time.Since(start).Microseconds())/1000)
			}
		}(t)
	}
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	stop.Store(true)
	wg.Wait()
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Float64s(all)
	fmt.Printf("%-10d %12.0f %10.2f %10.2f %10d\n", clients, float64(len(all))/seconds,
		percentile(all, 0.5), percentile(all, 0.99), failed)
	return len(all), failed
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "etcd client endpoints, comma-separated")
	seconds := flag.Float64("seconds", 5, "seconds per load")
	clientList := flag.String("clients", "1,16,64,256", "concurrent clients per load, comma-separated")
	perConn := flag.Int("clients-per-conn", 10, "clients sharing one gRPC connection")
	flag.Parse()
	var counts []int
	for _, s := range strings.Split(*clientList, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "etcd-grpc-writer: --clients '%s' is not a list of positive numbers\n", *clientList)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	if *perConn < 1 {
		fmt.Fprintf(os.Stderr, "etcd-grpc-writer: --clients-per-conn %d is not positive\n", *perConn)
		os.Exit(2)
	}
	eps := strings.Split(*endpoints, ",")
	dial := func() *clientv3.Client {
		c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcd-grpc-writer: cannot reach etcd at %s: %v\n", *endpoints, err)
			os.Exit(1)
		}
		return c
	}
	probe := dial()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := probe.Put(ctx, "etcd-grpc-writer-probe", "x")
	cancel()
	probe.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd-grpc-writer: etcd at %s does not take a put: %v\n", *endpoints, err)
		os.Exit(1)
	}
	fmt.Printf("etcd at %s (gRPC clientv3, %d clients per connection, 100-byte values)\n", *endpoints, *perConn)
	fmt.Printf("%-10s %12s %10s %10s %10s\n", "clients", "writes/s", "p50 ms", "p99 ms", "failed")
	ok := true
	for _, n := range counts {
		conns := make([]*clientv3.Client, (n+*perConn-1) / *perConn)
		for i := range conns {
			conns[i] = dial()
		}
		if acked, failed := load(conns, n, *seconds); acked == 0 {
			fmt.Fprintf(os.Stderr, "etcd-grpc-writer: etcd acknowledged no write in the %d-client load (%d attempts failed)\n", n, failed)
			ok = false
		}
		for _, c := range conns {
			c.Close()
		}
	}
	if !ok {
		os.Exit(1)
	}
}
