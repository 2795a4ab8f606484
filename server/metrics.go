package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lightiam/lightos/backends"
)

// metrics are the server's Prometheus collectors, in a registry of its own (no global
// state), served at /metrics.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	queueTime *prometheus.HistogramVec
	batchSize *prometheus.HistogramVec
}

func newMetrics(devices []backends.Device) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lightos_requests_total",
			Help: "Inference requests by model and outcome (success, or the error code)."}, []string{"model", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lightos_request_duration_seconds",
			Help: "Time from request decoded to response ready.", Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18)}, []string{"model"}),
		queueTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lightos_queue_duration_seconds",
			Help: "Time a request waited in the dynamic batcher.", Buckets: prometheus.ExponentialBuckets(10e-6, 2, 18)}, []string{"model"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lightos_batch_size",
			Help: "Batch sizes run by the dynamic batcher.", Buckets: prometheus.LinearBuckets(1, 1, 32)}, []string{"model"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.queueTime, m.batchSize,
		prometheus.NewGoCollector(), &deviceCollector{devices: devices})
	return m
}

var (
	tempDesc  = prometheus.NewDesc("lightos_device_temperature_celsius", "Device temperature (only where a sensor exists).", []string{"device", "simulated"}, nil)
	powerDesc = prometheus.NewDesc("lightos_device_power_watts", "Device power draw (only where a sensor exists).", []string{"device", "simulated"}, nil)
	utilDesc  = prometheus.NewDesc("lightos_device_utilization_ratio", "Device utilization 0..1 (only where measured).", []string{"device", "simulated"}, nil)
)

// deviceCollector reads telemetry at scrape time; readings a device lacks are omitted
// rather than reported as zero.
type deviceCollector struct{ devices []backends.Device }

func (c *deviceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tempDesc
	ch <- powerDesc
	ch <- utilDesc
}

func (c *deviceCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.devices {
		info := d.Info()
		tel, err := d.Telemetry()
		if err != nil {
			continue
		}
		name := info.String()
		sim := "false"
		if info.Simulated {
			sim = "true"
		}
		for _, r := range []struct {
			desc *prometheus.Desc
			v    backends.Reading
		}{{tempDesc, tel.TemperatureC}, {powerDesc, tel.PowerW}, {utilDesc, tel.Utilization}} {
			if r.v.Valid {
				ch <- prometheus.MustNewConstMetric(r.desc, prometheus.GaugeValue, r.v.Value, name, sim)
			}
		}
	}
}
