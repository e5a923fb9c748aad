"""How models and servers get tool calls wrong, as their public trackers show them.

Each shape names where it was reported. The tools offered in every case are :data:`TOOLS`, so a
shape's call is a call of one of them (or, on purpose, of none).
"""

from __future__ import annotations

from dataclasses import dataclass

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
READ = {
    "type": "function",
    "function": {
        "name": "read_file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "view_range": {"type": "array", "items": {"type": "integer"}}},
            "required": ["path"],
        },
    },
}
SQUARE = {
    "type": "function",
    "function": {
        "name": "square_the_number",
        "parameters": {"type": "object", "properties": {"input_num": {"type": "number"}}, "required": ["input_num"]},
    },
}
TOOLS = [WEATHER, READ, SQUARE]


@dataclass(frozen=True)
class InText:
    """A call the model wrote as the answer's text."""

    id: str
    source: str  # where it was reported
    text: str
    calls: tuple[tuple[str, dict[str, object]], ...]  # what the call means: (tool, arguments)
    form: str
    rest: str = ""  # the text left once the calls are taken out


IN_TEXT = (
    InText("hermes", "vllm-project/vllm#17161 (Qwen, hermes template, no parser)",
           '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
           (("get_weather", {"city": "Paris"}),), "hermes"),
    InText("hermes_two_after_prose", "Qwen2.5 with several calls after a sentence (vLLM hermes parser docs)",
           'Let me check both.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
           '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>',
           (("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})), "hermes", "Let me check both."),
    InText("qwen3_coder_xml", "vllm-project/vllm#21571 (Qwen3-Coder under the hermes parser)",
           "<tool_call>\n<function=square_the_number>\n<parameter=input_num>\n1024\n\n\n</tool_call>",
           (("square_the_number", {"input_num": 1024}),), "hermes"),
    InText("llama31_function_tag", "Llama 3.1 prompt format, <function=...> custom tools",
           '<function=get_weather>{"city": "Oslo"}</function><|eom_id|>',
           (("get_weather", {"city": "Oslo"}),), "function_tag"),
    InText("mistral_list", "ml-explore/mlx-lm#1374 (Ministral-8B-Instruct-2410)",
           '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcdefghi"}]',
           (("get_weather", {"city": "Paris"}),), "mistral"),
    InText("mistral_args", "raullenchai/Rapid-MLX#1071, ml-explore/mlx-lm#1448 (Devstral, two calls)",
           '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_weather[ARGS]{"city": "Tokyo"}',
           (("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"})), "mistral"),
    InText("llama_python_tag", "Llama 3.1 JSON tool calling without a parser",
           '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>',
           (("get_weather", {"city": "Paris"}),), "python_tag"),
    InText("llama4_python_start", "vllm-project/vllm#16214 (Llama 4, llama3_json parser)",
           '<|python_start|>{"name": "get_weather", "parameters": {"city": "Lyon"}}<|python_end|>',
           (("get_weather", {"city": "Lyon"}),), "python_tag"),
    InText("gpt_oss_harmony", "kekzl/imp#1716 (gpt-oss-20b, harmony envelope in the text)",
           '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Berlin"}<|call|>',
           (("get_weather", {"city": "Berlin"}),), "harmony"),
    InText("fenced_json", "small models asked for JSON tool calls in a system prompt",
           'I will look it up.\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
           (("get_weather", {"city": "Paris"}),), "fenced_json", "I will look it up."),
    InText("llama32_function_object", "vllm-project/vllm#11786 (llama-3.2-11b-vision-instruct)",
           '{"type": "function", "function": {"name": "get_weather", "parameters": {"city": "Sydney"}}}',
           (("get_weather", {"city": "Sydney"}),), "json"),
    InText("llama4_scout_json", "vllm-project/vllm#46863 (Llama-4-Scout under the pythonic parser)",
           '{"type": "function", "name": "read_file", "parameters": {"path": "README.md"}}',
           (("read_file", {"path": "README.md"}),), "json"),
    InText("llama4_pythonic", "vllm-project/vllm#22917 (Llama 4 pythonic after raw content)",
           '[get_weather(city="Dublin"), get_weather(city="Cork", days=2)]',
           (("get_weather", {"city": "Dublin"}), ("get_weather", {"city": "Cork", "days": 2})), "pythonic"),
)  # fmt: skip

# Text that looks like a call but is not one: left alone.
NOT_CALLS = (
    ("json_of_another_tool", 'Here is an example: {"name": "search_web", "arguments": {"q": "x"}}'),
    ("json_data_answer", '{"city": "Paris", "temperature": 21}'),
    ("python_code_fence", "```python\nprint(get_weather('Paris'))\n```"),
    ("html", "<b>bold</b> and <i>italic</i> [link](x)"),
    ("list_of_numbers", "[1, 2, 3] are the first three."),
    ("plain", "The weather in Paris is sunny."),
)


@dataclass(frozen=True)
class BadCall:
    """A proper tool call whose name or arguments are wrong."""

    id: str
    source: str
    name: str
    arguments: str
    result: str  # what proxyd finds
    fixed: tuple[str, dict[str, object]] | None  # what repair sends instead, or None: nothing it may do


BAD_CALLS = (
    BadCall("ok", "OpenAI's own shape", "get_weather", '{"city": "Paris"}', "ok", None),
    BadCall("single_quotes", "cubist38/mlx-openai-server#124 (MiniMax M2.1 with opencode)",
            "read_file", "{'path': '/Users/me/src/store/search.constant.js'}", "invalid_json",
            ("read_file", {"path": "/Users/me/src/store/search.constant.js"})),
    BadCall("single_quoted_list", "QwenLM/qwen-code#288", "read_file",
            "{\"path\": 'app.py', \"view_range\": [1, 20,],}", "invalid_json",
            ("read_file", {"path": "app.py", "view_range": [1, 20]})),
    BadCall("escape_outside_string", "OpenHands/software-agent-sdk#2488 (Qwen3.5-Flash)", "read_file",
            '{"path": "query.py", "view_range": \\n[2142, 2250]\\n\\n}', "invalid_json",
            ("read_file", {"path": "query.py", "view_range": [2142, 2250]})),
    BadCall("trailing_noise", "NousResearch/hermes-agent#81765", "get_weather",
            '{"city": "Rome"} {"city": "Rome"}', "invalid_json", ("get_weather", {"city": "Rome"})),
    BadCall("extra_brace", "yigit353/langchain-qwq#30", "get_weather", '{"city": "Rome"}}', "invalid_json",
            ("get_weather", {"city": "Rome"})),
    BadCall("fenced_arguments", "small models fencing their JSON", "get_weather",
            '```json\n{"city": "Nice"}\n```', "invalid_json", ("get_weather", {"city": "Nice"})),
    BadCall("empty_for_required", "vllm-project/vllm#19419 (empty arguments)", "get_weather", "",
            "invalid_json", None),
    BadCall("truncated", "a stream cut by max_tokens", "get_weather", '{"city": "Par', "invalid_json", None),
    BadCall("double_encoded", "gateways that JSON-encode arguments twice", "get_weather",
            '"{\\"city\\": \\"Paris\\"}"', "schema_mismatch", ("get_weather", {"city": "Paris"})),
    BadCall("string_for_integer", "Qwen3-Coder values given as text", "get_weather",
            '{"city": "Paris", "days": "3"}', "schema_mismatch", ("get_weather", {"city": "Paris", "days": 3})),
    BadCall("missing_required", "vllm-project/vllm#11786 (location for city)", "get_weather",
            '{"location": "Sydney"}', "schema_mismatch", None),
    BadCall("harmony_suffix_name", "gpt-oss tool names carrying <|channel|> (vLLM, Ollama reports)",
            "get_weather<|channel|>commentary", '{"city": "Oslo"}', "unknown_tool", ("get_weather", {"city": "Oslo"})),
    BadCall("functions_prefix", "gpt-oss recipients functions.NAME leaking into the name", "functions.get_weather",
            '{"city": "Oslo"}', "unknown_tool", ("get_weather", {"city": "Oslo"})),
    BadCall("never_offered", "a tool the request never offered", "web_search", '{"query": "x"}', "unknown_tool",
            None),
)  # fmt: skip
