"""jupyter_kernel_test's conformance suite against the LightOS Go kernel, with
every optional sample filled in. Each message is validated against the
protocol's JSON schemas by the suite."""

import unittest

import jupyter_kernel_test

PNG_1x1 = (
    "[]byte{0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,"
    " 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89}"
)


class LightOSKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "lightos"
    language_name = "go"
    file_extension = ".go"

    code_hello_world = 'import "fmt"\nfmt.Println("hello, world")'
    code_stderr = 'import (\n\t"fmt"\n\t"os"\n)\nfmt.Fprintln(os.Stderr, "to stderr")'

    completion_samples = [
        {"text": "strings.ToU", "matches": {"ToUpper", "ToUpperSpecial"}},
        {"text": "fmt.Sprin", "matches": {"Sprint", "Sprintf", "Sprintln"}},
        {"text": "pri", "matches": {"print", "println"}},
    ]

    complete_code_samples = ["x := 1", 'import "fmt"', "func f() int { return 1 }", "for i := 0; i < 2; i++ {\n}"]
    incomplete_code_samples = ["func f() {", "for i := 0; i < 3; i++ {", "xs := []int{1,\n2,", "s := `raw"]
    invalid_code_samples = ["x := )", "}", "a b c"]

    code_generate_error = 'panic("expected error")'

    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": '"light" + "os"', "result": "lightos"},
        {"code": "sq := 3\nsq * sq", "result": "9"},
        {"code": 'display.Bundle{"text/html": "<b>bold</b>"}', "mime": "text/html"},
        # A type declared in a cell shows through its own HTML method.
        {
            "code": 'type Card struct{ T string }\nfunc (c Card) HTML() string { return "<b>" + c.T + "</b>" }\nCard{"x"}',
            "mime": "text/html",
            "result": "<b>x</b>",
        },
    ]

    code_display_data = [
        {"code": 'display.HTML("<b>hi</b>")', "mime": "text/html"},
        {"code": 'display.Markdown("# Title")', "mime": "text/markdown"},
        {"code": 'display.SVG(`<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>`)', "mime": "image/svg+xml"},
        {"code": "display.PNG(" + PNG_1x1 + ")", "mime": "image/png"},
        {"code": 'display.JSON(map[string]int{"a": 1})', "mime": "application/json"},
    ]

    code_history_pattern = "6*7"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "strings.ToUpper"

    code_clear_output = "display.ClearOutput(true)"


if __name__ == "__main__":
    unittest.main()
