// Package kernelspec writes the LightOS kernel's kernelspec (kernel.json and
// logos) into a Jupyter data directory, as `lightos kernel install` does.
package kernelspec
