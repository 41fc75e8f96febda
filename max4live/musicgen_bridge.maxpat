{
 "patcher": {
  "fileversion": 1,
  "appversion": {
   "major": 8,
   "minor": 6,
   "revision": 0,
   "architecture": "x64",
   "modernui": 1
  },
  "classnamespace": "box",
  "rect": [
   100.0,
   100.0,
   900.0,
   800.0
  ],
  "openrect": [
   0.0,
   0.0,
   486.0,
   169.0
  ],
  "openinpresentation": 1,
  "devicewidth": 486.0,
  "default_fontsize": 11.0,
  "default_fontname": "Arial",
  "gridsize": [
   15.0,
   15.0
  ],
  "description": "MusicGen Bridge: generate audio with a local MusicGen engine over OSC.",
  "boxes": [
   {
    "box": {
     "id": "obj-plugin",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      700.0,
      60.0,
      22.0
     ],
     "outlettype": [
      "signal",
      "signal"
     ],
     "text": "plugin~"
    }
   },
   {
    "box": {
     "id": "obj-plugout",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      740.0,
      60.0,
      22.0
     ],
     "text": "plugout~"
    }
   },
   {
    "box": {
     "id": "obj-thisdevice",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      20.0,
      90.0,
      22.0
     ],
     "outlettype": [
      "bang",
      "int",
      "int"
     ],
     "text": "live.thisdevice"
    }
   },
   {
    "box": {
     "id": "obj-initdefer",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      50.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "deferlow"
    }
   },
   {
    "box": {
     "id": "obj-initmsg",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      80.0,
      40.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "init"
    }
   },
   {
    "box": {
     "id": "obj-js",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      300.0,
      300.0,
      200.0,
      22.0
     ],
     "outlettype": [
      "",
      "",
      ""
     ],
     "text": "js musicgen_bridge.js",
     "saved_object_attributes": {
      "filename": "musicgen_bridge.js",
      "parameter_enable": 0
     }
    }
   },
   {
    "box": {
     "id": "obj-udpsend",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      300.0,
      400.0,
      150.0,
      22.0
     ],
     "text": "udpsend 127.0.0.1 9000"
    }
   },
   {
    "box": {
     "id": "obj-udpreceive",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      560.0,
      200.0,
      110.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "udpreceive 47000"
    }
   },
   {
    "box": {
     "id": "obj-replydefer",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      560.0,
      240.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "deferlow"
    }
   },
   {
    "box": {
     "id": "obj-mkdir",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      560.0,
      400.0,
      300.0,
      22.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "text": "node.script musicgen_mkdir.js @autostart 1 @watch 0",
     "saved_object_attributes": {
      "autostart": 1,
      "defer": 0,
      "watch": 0
     }
    }
   },
   {
    "box": {
     "id": "obj-route",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 7,
     "patching_rect": [
      300.0,
      460.0,
      300.0,
      22.0
     ],
     "outlettype": [
      "",
      "",
      "",
      "",
      "",
      "",
      ""
     ],
     "text": "route status progress reachable models seed port"
    }
   },
   {
    "box": {
     "id": "obj-statusset",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      300.0,
      500.0,
      75.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend set"
    }
   },
   {
    "box": {
     "id": "obj-status",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      300.0,
      540.0,
      400.0,
      20.0
     ],
     "text": "Starting...",
     "presentation": 1,
     "presentation_rect": [
      8.0,
      142.0,
      470.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-progressset",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      390.0,
      500.0,
      75.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend set"
    }
   },
   {
    "box": {
     "id": "obj-progress",
     "maxclass": "slider",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      390.0,
      580.0,
      200.0,
      16.0
     ],
     "outlettype": [
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      8.0,
      124.0,
      470.0,
      12.0
     ],
     "floatoutput": 1,
     "size": 1.0,
     "orientation": 1,
     "ignoreclick": 1
    }
   },
   {
    "box": {
     "id": "obj-led",
     "maxclass": "led",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      480.0,
      620.0,
      20.0,
      20.0
     ],
     "outlettype": [
      "int"
     ],
     "presentation": 1,
     "presentation_rect": [
      458.0,
      8.0,
      18.0,
      18.0
     ],
     "ignoreclick": 1
    }
   },
   {
    "box": {
     "id": "obj-seedset",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      560.0,
      500.0,
      75.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend set"
    }
   },
   {
    "box": {
     "id": "obj-portmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      650.0,
      500.0,
      80.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend port"
    }
   },
   {
    "box": {
     "id": "obj-prompt",
     "maxclass": "textedit",
     "numinlets": 1,
     "numoutlets": 4,
     "patching_rect": [
      20.0,
      150.0,
      250.0,
      50.0
     ],
     "outlettype": [
      "",
      "int",
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      8.0,
      8.0,
      300.0,
      50.0
     ],
     "keymode": 1,
     "lines": 3
    }
   },
   {
    "box": {
     "id": "obj-bars",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      220.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      318.0,
      24.0,
      44.0,
      15.0
     ],
     "varname": "Bars",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Bars",
       "parameter_shortname": "Bars",
       "parameter_type": 1,
       "parameter_mmin": 1,
       "parameter_mmax": 64,
       "parameter_initial": [
        4
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-barsmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      250.0,
      80.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend bars"
    }
   },
   {
    "box": {
     "id": "obj-model",
     "maxclass": "umenu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      120.0,
      220.0,
      160.0,
      22.0
     ],
     "outlettype": [
      "int",
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      318.0,
      44.0,
      160.0,
      22.0
     ],
     "items": [
      "engine",
      "default"
     ]
    }
   },
   {
    "box": {
     "id": "obj-modelmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      120.0,
      250.0,
      90.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend model"
    }
   },
   {
    "box": {
     "id": "obj-seed",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      280.0,
      70.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      372.0,
      24.0,
      76.0,
      15.0
     ],
     "varname": "Seed",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Seed",
       "parameter_shortname": "Seed",
       "parameter_type": 1,
       "parameter_mmin": 0,
       "parameter_mmax": 2147483647,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-seedmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      310.0,
      80.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend seed"
    }
   },
   {
    "box": {
     "id": "obj-lock",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      120.0,
      280.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "text": "Lock seed",
     "presentation": 1,
     "presentation_rect": [
      318.0,
      70.0,
      60.0,
      18.0
     ],
     "texton": "Seed locked",
     "mode": 1,
     "varname": "Lock seed",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Lock seed",
       "parameter_shortname": "Lock",
       "parameter_type": 2,
       "parameter_enum": [
        "off",
        "on"
       ]
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-lockmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      120.0,
      310.0,
      100.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend lockseed"
    }
   },
   {
    "box": {
     "id": "obj-generate",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      350.0,
      80.0,
      20.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "text": "Generate",
     "presentation": 1,
     "presentation_rect": [
      318.0,
      96.0,
      76.0,
      22.0
     ],
     "mode": 0,
     "varname": "Generate",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Generate",
       "parameter_shortname": "Generate",
       "parameter_type": 2,
       "parameter_enum": [
        "off",
        "on"
       ]
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-gentrig",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      380.0,
      80.0,
      22.0
     ],
     "outlettype": [
      "generate",
      "bang"
     ],
     "text": "t generate b"
    }
   },
   {
    "box": {
     "id": "obj-cancel",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      120.0,
      350.0,
      80.0,
      20.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "text": "Cancel",
     "presentation": 1,
     "presentation_rect": [
      400.0,
      96.0,
      76.0,
      22.0
     ],
     "mode": 0,
     "varname": "Cancel",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Cancel",
       "parameter_shortname": "Cancel",
       "parameter_type": 2,
       "parameter_enum": [
        "off",
        "on"
       ]
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-canceltrig",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      120.0,
      380.0,
      60.0,
      22.0
     ],
     "outlettype": [
      "cancel"
     ],
     "text": "t cancel"
    }
   },
   {
    "box": {
     "id": "obj-lbl-bars",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      80.0,
      220.0,
      40.0,
      20.0
     ],
     "text": "Bars",
     "presentation": 1,
     "presentation_rect": [
      318.0,
      8.0,
      44.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-lbl-seed",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      100.0,
      280.0,
      40.0,
      20.0
     ],
     "text": "Seed",
     "presentation": 1,
     "presentation_rect": [
      372.0,
      8.0,
      44.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-lbl-engine",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      500.0,
      620.0,
      50.0,
      20.0
     ],
     "text": "Engine",
     "presentation": 1,
     "presentation_rect": [
      410.0,
      8.0,
      48.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-lbl-prompt",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      120.0,
      500.0,
      20.0
     ],
     "text": "Prompt: type, then Generate. Takes land on a new audio track under the selected clip.",
     "presentation": 1,
     "presentation_rect": [
      8.0,
      62.0,
      300.0,
      46.0
     ],
     "linecount": 3
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "source": [
      "obj-plugin",
      0
     ],
     "destination": [
      "obj-plugout",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-plugin",
      1
     ],
     "destination": [
      "obj-plugout",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-thisdevice",
      0
     ],
     "destination": [
      "obj-initdefer",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-initdefer",
      0
     ],
     "destination": [
      "obj-initmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-initmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-js",
      0
     ],
     "destination": [
      "obj-udpsend",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-udpreceive",
      0
     ],
     "destination": [
      "obj-replydefer",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-replydefer",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-js",
      2
     ],
     "destination": [
      "obj-mkdir",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-mkdir",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-js",
      1
     ],
     "destination": [
      "obj-route",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      0
     ],
     "destination": [
      "obj-statusset",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-statusset",
      0
     ],
     "destination": [
      "obj-status",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      1
     ],
     "destination": [
      "obj-progressset",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-progressset",
      0
     ],
     "destination": [
      "obj-progress",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      2
     ],
     "destination": [
      "obj-led",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      5
     ],
     "destination": [
      "obj-portmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-portmsg",
      0
     ],
     "destination": [
      "obj-udpreceive",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-prompt",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-bars",
      0
     ],
     "destination": [
      "obj-barsmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-barsmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-model",
      1
     ],
     "destination": [
      "obj-modelmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-modelmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      3
     ],
     "destination": [
      "obj-model",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-seed",
      0
     ],
     "destination": [
      "obj-seedmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-seedmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      4
     ],
     "destination": [
      "obj-seedset",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-seedset",
      0
     ],
     "destination": [
      "obj-seed",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-lock",
      0
     ],
     "destination": [
      "obj-lockmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-lockmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-generate",
      0
     ],
     "destination": [
      "obj-gentrig",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-gentrig",
      1
     ],
     "destination": [
      "obj-prompt",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-gentrig",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-cancel",
      0
     ],
     "destination": [
      "obj-canceltrig",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-canceltrig",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   }
  ],
  "dependency_cache": [
   {
    "name": "musicgen_bridge.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_mkdir.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   }
  ],
  "latency": 0,
  "autosave": 0
 }
}
