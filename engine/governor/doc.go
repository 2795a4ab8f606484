// Package governor is the PowerGovernor: a job queue that places inference jobs on
// devices with an eye on temperature and power.
//
// Submit takes a JobSpec (a Runner, such as a graph through GraphRunner, its feeds,
// a priority and an optional deadline) and returns a *Job handle with its result,
// status, device, queue and run times and energy. The queue is a priority queue with
// aging (a job gains AgingPerSecond priority levels for every second it waits, so
// nothing starves); a job whose deadline passes before it starts expires; Cancel
// removes a queued job or cancels a running one's context.
//
// A Policy decides where and how the job at the head of the queue runs:
// NoGovernor (first idle device), RoundRobin, CoolestFirst, and Predictive, which
// forecasts each device's peak temperature over the job (and over the queued
// backlog) from its fitted thermal model and the job's estimated power, and then
// runs the job on the device with the lowest forecast, caps its power where the
// forecast crosses the slowdown threshold less a margin, or delays it when a cap
// would cost more than MinSpeed allows. It does not pace by duty cycle: on the H100
// trace a 0.5 s on/off duty cycle (faster than the 16 s slow time constant) lowered
// the peak by only 5 °C and cost 23% more energy per unit of work. Job power comes
// from the device's power profile, which lowers it for sparse weights
// (WeightSparsity), so sparse work gets a smaller software power budget and fits
// under a node budget (Options.PowerBudgetW) where dense work would wait.
//
// Devices: simulated devices (package backends/sim) run in virtual time
// (Options.Virtual): the governor steps every device's model, so an hour of bursty
// load replays in about a second (bench/thermal). Real devices run jobs in
// goroutines in wall-clock time; their temperature comes from Telemetry, and a
// thermal observer (the fitted model driven by measured power, corrected by the
// measured temperature) makes the forecasts. A power cap is applied to a real device
// only when it implements PowerCapper (NVML with the explicit opt-in); otherwise the
// policy can only move or delay work.
package governor
