// Package cell is what a notebook cell uses to talk to the kernel running it:
// the cell's context, cancelled when the user interrupts the kernel (pass it
// to engine calls so that they stop too), and input from the user through the
// notebook's stdin channel.
//
// Cells import it as "github.com/lightiam/lightos/kernel/cell" (the kernel
// imports it for them). Like package display it keeps no global state: the
// kernel binds a Runtime per session and exports its methods (Exports).
package cell
