"""``bark_omni.testing`` works from a plugin author's own test suite (run here through pytester)."""


def test_fixtures_are_available_to_a_third_party_suite(pytester):
    pytester.makepyfile(
        """
        import numpy as np
        import bark_omni
        from bark_omni.specs import DecoderSpec

        class Echo:
            @bark_omni.hookimpl
            def register_decoders(self, register):
                register(DecoderSpec(name="echo", sample_rate=8000, latency="realtime", bitrate_kbps=0.0,
                                     load=lambda models, options: (lambda fine: fine[0].astype("float32"))))

        def test_my_decoder(make_host, tiny_models):
            host = make_host(Echo())
            assert {"encodec", "echo"} <= set(host.decoders)
            decode = host.decoder("echo").load(tiny_models, {})
            assert decode(np.ones((8, 5), dtype=np.int64)).shape == (5,)

        def test_tiny_host_generates(tiny_host):
            audio = bark_omni.generate_audio("hi", model="tiny", host=tiny_host, silent=True,
                                             max_gen_duration_s=0.2, seed=0)
            assert audio.dtype == np.float32
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
