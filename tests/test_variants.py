"""The variant table (convert/variants.py): what each .tflite is, which conversions build it, how it is judged.

The expectations are written out by hand from what the README, --help and the committed parity reports
promise, so a change to the table shows up here as a change of a promise."""

import dataclasses

import pytest

from convert import variants as table
from convert.variants import (EDGE, LANGUAGE_MODEL, MEDIAPIPE, Variant, calibrated_names, default_names, names,
                              parse, quantized_names, register, thresholds_sentence, unregister, variant)

PUBLISHED = ("float32 agreement ≥ 99.9% and max |Δp| ≤ 1e-3; float16 |Δacc| ≤ 0.1 pp; dynamic agreement ≥ 99.0% "
             "and |Δacc| ≤ 0.3 pp and at most 30% of the float32 file; int8 agreement ≥ 98.5% and |Δacc| ≤ 0.3 pp "
             "and at most 30% of the float32 file")


def test_which_conversion_builds_which_file():
    assert names() == names(EDGE) == ["float32", "float16", "dynamic", "int8"]
    assert names(MEDIAPIPE) == names(LANGUAGE_MODEL) == ["float32", "dynamic", "int8"]
    assert default_names() == default_names(EDGE) == ["float32", "float16", "dynamic", "int8"]
    assert default_names(MEDIAPIPE) == default_names(LANGUAGE_MODEL) == ["float32", "dynamic"]
    assert quantized_names() == quantized_names(MEDIAPIPE) == ["dynamic", "int8"]
    assert calibrated_names(["float32", "int8", "dynamic", "float16"]) == ["int8"]
    assert [v.name for v in table.variants(MEDIAPIPE)] == ["float32", "dynamic", "int8"]
    assert table.REFERENCE == "float32" and table.FULL_INTEGER == "int8"


def test_how_each_file_is_converted():
    """The converter settings each variant stands for (convert.tflite.configure_converter reads these)."""
    settings = {v.name: (v.optimize, v.float16_weights, v.per_tensor_scales, v.calibrated) for v in table.variants()}
    assert settings == {"float32": (False, False, False, False), "float16": (True, True, False, False),
                        "dynamic": (True, False, True, False), "int8": (True, False, True, True)}
    assert [v.max_size_ratio for v in table.variants()] == [None, None, 0.3, 0.3]
    assert variant("dynamic").summary == "int8 weights, float activations"
    assert variant("int8").summary == "full integer, calibrated on training reviews"
    assert variant("float16").summary == "float16 weights"
    assert variant("float32").summary == "float32 weights and activations: the Keras model's numbers"


def test_the_thresholds_are_the_published_ones():
    assert thresholds_sentence() == PUBLISHED
    ratios = {v.name: v.thresholds.get("max_perplexity_ratio") for v in table.variants()}
    assert ratios == {"float32": 1.001, "float16": None, "dynamic": 1.02, "int8": 1.05}
    assert variant("float32").thresholds == {"min_agreement": 0.999, "max_abs_prob_diff": 1e-3,
                                             "max_perplexity_ratio": 1.001}
    assert variant("int8").thresholds == {"max_abs_delta_pp": 0.3, "min_agreement": 0.985,
                                          "max_perplexity_ratio": 1.05}
    assert variant("dynamic").thresholds == {"max_abs_delta_pp": 0.3, "min_agreement": 0.99,
                                             "max_perplexity_ratio": 1.02}
    assert variant("float16").thresholds == {"max_abs_delta_pp": 0.1}


def test_parse_keeps_the_tables_order_and_names_the_choices_when_wrong():
    assert parse("int8, dynamic") == ["dynamic", "int8"]
    assert parse(["int8", "float32", ""]) == ["float32", "int8"]
    assert parse("int8,,dynamic,", MEDIAPIPE) == ["dynamic", "int8"]
    with pytest.raises(ValueError) as error:
        parse("float16", MEDIAPIPE)
    assert str(error.value) == "variant float16 is not built for mediapipe files; choose from float32, dynamic, int8"
    with pytest.raises(ValueError) as error:
        parse(" , ")
    assert str(error.value) == "no variant given; choose from float32, float16, dynamic, int8"
    with pytest.raises(ValueError) as error:
        parse("int9")
    assert str(error.value) == "unknown variant 'int9'; choose from float32, float16, dynamic, int8"


def test_register_checks_names_and_targets_and_the_reference_stays():
    try:
        added = register(Variant("int4", "4-bit weights", optimize=True, targets=(EDGE, MEDIAPIPE),
                                 default_for=()))
        assert variant("int4") is added and names() == ["float32", "float16", "dynamic", "int8", "int4"]
        assert names(MEDIAPIPE)[-1] == "int4" and "int4" not in default_names() and "int4" in quantized_names()
        replaced = register(Variant("int4", "again", default_for=()))
        assert variant("int4") is replaced and names().count("int4") == 1
    finally:
        unregister("int4")
    assert "int4" not in names()
    unregister("int4")   # removing what is not there is no error
    with pytest.raises(ValueError) as error:
        register(Variant("int-4", "x"))
    assert str(error.value) == "a variant name must be a plain word (it names a file), got 'int-4'"
    with pytest.raises(ValueError) as error:
        register(Variant("int4", "x", targets=(EDGE, "phone")))
    assert str(error.value) == "variant int4: unknown target(s) ['phone']; targets are edge, mediapipe, language_model"
    with pytest.raises(ValueError) as error:
        register(Variant("int4", "x", default_for=("phone",)))
    assert "unknown target(s) ['phone']" in str(error.value) and "int4" not in names()
    with pytest.raises(ValueError) as error:
        unregister("float32")
    assert str(error.value) == "float32 is the reference variant; it cannot be removed"
    assert names()[0] == "float32"


def test_a_variant_is_frozen_and_its_defaults_are_an_edge_file_judged_by_nothing():
    with pytest.raises(dataclasses.FrozenInstanceError):
        variant("int8").calibrated = False          # the table is shared: nobody changes a variant in place
    plain = Variant("plain", "a plain file")
    assert (plain.targets, plain.default_for, plain.thresholds, plain.max_size_ratio) == ((EDGE,), (EDGE,), {}, None)
    assert (plain.optimize, plain.float16_weights, plain.per_tensor_scales, plain.calibrated) == (False,) * 4
    assert Variant("a", "b").thresholds is not Variant("c", "d").thresholds      # not one dict shared by all


@pytest.mark.parametrize("change, met", [
    ({}, True),
    ({"delta_accuracy_pp": -0.3}, True), ({"delta_accuracy_pp": 0.31}, False), ({"delta_accuracy_pp": -0.31}, False),
    ({"agreement": 0.999}, True), ({"agreement": 0.9989}, False),
    ({"hostile_labels_that_differ": [7]}, False),
])
def test_mediapipe_and_edge_runtime_must_agree_on_one_file_within_the_runtime_thresholds(change, met):
    from convert.variants import runtimes_agree

    row = {"delta_accuracy_pp": 0.0, "agreement": 1.0, "hostile_labels_that_differ": [], **change}
    assert runtimes_agree(row) is met
