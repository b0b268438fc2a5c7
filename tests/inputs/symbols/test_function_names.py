"""Function names as WPA prints them: argument lists cut, MSVC decorations undone, labels."""

from __future__ import annotations

import pytest

from gate.inputs.symbols import Function, frame_label
from gate.inputs.symbols.names import without_arguments
from gate.inputs.symbols.undecorate import undecorated

STR = "std::basic_string<wchar_t,std::char_traits<wchar_t>,std::allocator<wchar_t> >"


@pytest.mark.parametrize(
    ("symbolic_name", "name"),
    [
        ("main(int, char**)", "main"),
        ("memcpy", "memcpy"),
        ("__report_gsfailure(<NoType>)", "__report_gsfailure"),
        ("google_breakpad::CrashGenerationClient::IsRegistered() const", "google_breakpad::CrashGenerationClient::IsRegistered"),  # noqa: E501
        (f"{STR}::operator=({STR}&&)", f"{STR}::operator="),
        ("X::<lambda_0361>::operator()(wchar_t* const, const unsigned int) const", "X::<lambda_0361>::operator()"),  # noqa: E501
        ("Lambda::operator()", "Lambda::operator()"),
        ("operator new(unsigned int)", "operator new"),
        ("std::bad_alloc::`scalar deleting destructor'(unsigned int)", "std::bad_alloc::`scalar deleting destructor'"),  # noqa: E501
        ("H::{ctor}(bool (*)(void*, _EXCEPTION_POINTERS*), void*, int)", "H::{ctor}"),
        ("f(int) const volatile &&", "f"),
        ("odd)", "odd)"),
        ("(", "("),
        ("", ""),
    ],
)  # fmt: skip
def test_without_arguments(symbolic_name: str, name: str) -> None:
    assert without_arguments(symbolic_name) == name


@pytest.mark.parametrize(
    ("decorated", "name"),
    [
        ("??1Widget@Contoso@@QEAA@XZ", "Contoso::Widget::~Widget"),
        ("??0AutoExceptionHandler@google_breakpad@@QAE@XZ", "google_breakpad::AutoExceptionHandler::AutoExceptionHandler"),  # noqa: E501
        ("?what@exception@std@@UBEPBDXZ", "std::exception::what"),
        ("?__scrt_initialize_type_info@@YAXXZ", "__scrt_initialize_type_info"),
        ("??2@YAPAXI@Z", "operator new"),
        ("??3@YAXPAXI@Z", "operator delete"),
        ("??H@YA?AVX@@V0@0@Z", "operator+"),
        ("??_GCrashGenerationClient@google_breakpad@@QAEPAXI@Z", "google_breakpad::CrashGenerationClient::`scalar deleting destructor'"),  # noqa: E501
        ("??_Eexception@std@@UAEPAXI@Z", "std::exception::`vector deleting destructor'"),
        ("?callback@?A0x1234abcd@@YAXXZ", "`anonymous namespace'::callback"),
        # templates: a context of their own (`2` is `std` inside basic_string's arguments)
        ("??1?$basic_string@_WU?$char_traits@_W@std@@V?$allocator@_W@2@@std@@QAE@XZ", "std::basic_string<wchar_t,struct std::char_traits<wchar_t>,class std::allocator<wchar_t> >::~basic_string<wchar_t,struct std::char_traits<wchar_t>,class std::allocator<wchar_t> >"),  # noqa: E501
        ("?Get@?$Box@H$0BA@@Lib@@QEAAHXZ", "Lib::Box<int,16>::Get"),
        ("??0?$Box@W4Color@Lib@@$0?5@Lib@@QEAA@XZ", "Lib::Box<enum Lib::Color,-6>::Box<enum Lib::Color,-6>"),  # noqa: E501
        ("?f@?$A@V?$B@H@@@@QAEXXZ", "A<class B<int> >::f"),
        ("?Run@Worker@Contoso@@QEAAXXZ", "Contoso::Worker::Run"),
        ("?g@A@@QAEX0@Z", "A::g"),  # back-references in the type part are never read
    ],
)  # fmt: skip
def test_undecorated(decorated: str, name: str) -> None:
    assert undecorated(decorated) == name


@pytest.mark.parametrize(
    "kept",
    [
        "memcpy",  # not decorated
        "_CxxThrowException",
        "??_C@_0L@IDKDBMAM@UuidCreate?$AA@",  # a string literal
        "??_7exception@std@@6B@",  # a vftable
        "??_R4type_info@@6B@",  # RTTI
        "?_OptionsStorage@?1??__local_stdio_printf_options@@9@4_KA",  # a local scope
        "??$emplace_back@PAVExceptionHandler@google_breakpad@@@?$vector@PAVExceptionHandler@google_breakpad@@V?$allocator@PAVExceptionHandler@google_breakpad@@@std@@@std@@QAEX$$QAPAVExceptionHandler@google_breakpad@@@Z",
        "??BWidget@@QEAAHXZ",  # a conversion operator
        "??0@QAE@XZ",  # a constructor of nothing
        "?f@",  # truncated
        "?f@A",  # truncated
        "?",
        "?5@@",  # a back-reference to a name not seen
        "?f@?$A@$0Q@@@QAEXXZ",  # a bad number
        "??$?HH@A@@QAEXXZ",  # an operator template
    ],
)
def test_names_not_understood_are_kept(kept: str) -> None:
    assert undecorated(kept) == kept


def test_frame_labels() -> None:
    f = Function("Contoso::Queue::Grow", 0x1100)
    assert frame_label("contosonet.sys", 0x1130, f) == "contosonet.sys!Contoso::Queue::Grow+0x30"
    assert frame_label("contosonet.sys", 0x1100, f) == "contosonet.sys!Contoso::Queue::Grow"
    assert frame_label("contosonet.sys", 0x1130, f, offsets=False) == (
        "contosonet.sys!Contoso::Queue::Grow"
    )
    assert frame_label("contosonet.sys", 0x1130, None) == "contosonet.sys+0x1130"
    assert f.offset(0x1130) == 0x30
